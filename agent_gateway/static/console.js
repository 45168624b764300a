/* Madoguchi consoles: what every page shares. No build step, no library.
   - MDG.config: the signed-in user, the CSRF token, the words of the page's language
   - MDG.api(method, url, body): fetch with the CSRF token; {ok, status, data}
   - MDG.live(onMessage): the WebSocket /ws, reconnected when it drops
   - MDG.clock(): the server's time now (seconds), from the messages' server_time
   Everything shown is set with textContent: nothing from the server becomes HTML. */
"use strict";
const MDG = (() => {
  const node = document.getElementById("mdg-config");
  const config = node ? JSON.parse(node.textContent) : {words: {}};
  let offset = 0;  // server time - local time, seconds

  function word(key) { return config.words[key] || key; }

  async function api(method, url, body) {
    const headers = {"X-CSRF-Token": config.csrf, "Accept": "application/json"};
    const options = {method, headers, credentials: "same-origin"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return {ok: false, status: 0, data: {message: String(err)}};
    }
    if (response.status === 401) { location.href = "/login?expired=1"; }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return {ok: response.ok, status: response.status, data};
  }

  function errorText(result) {
    const d = result.data || {};
    return `${word("error")}: ${d.message || result.status}` + (d.error_id ? ` (${d.error_id})` : "");
  }

  function say(id, text, isError) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  function clock() { return Date.now() / 1000 + offset; }

  function live(onMessage) {
    const indicator = document.getElementById("live");
    let delay = 500;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}/ws`);
      ws.onopen = () => {
        delay = 500;
        if (indicator) { indicator.textContent = word("connected"); indicator.className = "live on"; }
      };
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.server_time) offset = message.server_time - Date.now() / 1000;
        onMessage(message);
      };
      ws.onclose = (event) => {
        if (indicator) { indicator.textContent = word("disconnected"); indicator.className = "live off"; }
        if (event.code === 4401) { location.href = "/login?expired=1"; return; }
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "-";
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
  }

  function when(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toLocaleString(config.lang === "en" ? "en-GB" : "ja-JP",
      {timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit",
       hour: "2-digit", minute: "2-digit"});
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function button(label, onClick, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function statusWord(status) { return word(`st_${status}`); }
  function reasonWord(reason) { return reason ? (config.words[`rs_${reason}`] || reason) : ""; }

  return {config, word, api, errorText, say, clock, live, duration, when, cell, button,
          statusWord, reasonWord};
})();
