/* The agent console: state controls, the screen-pop (kept until the disposition is
   sent), the disposition form and the call controls. Live over /ws. */
"use strict";
(() => {
  const me = MDG.config.agent;
  let state = null;   // the agent's state (server's JSON)
  let pop = null;     // the pop shown (pending disposition or ringing)
  let held = false;
  window.mdgPopShown = {};  // uniqueid -> epoch seconds the pop was rendered (measured by tests)

  const $ = (id) => document.getElementById(id);

  function renderState() {
    const label = $("state-label");
    if (!state) { label.textContent = "-"; return; }
    label.textContent = MDG.statusWord(state.status);
    label.dataset.status = state.status;
    $("state-reason").textContent = state.status === "away" || state.status === "missed"
      ? MDG.reasonWord(state.reason) : "";
    const s = state.status;
    $("btn-login").hidden = s !== "logged_out";
    $("btn-ready").hidden = !["away", "missed"].includes(s);
    $("btn-away").hidden = !["ready", "away", "missed", "wrapup"].includes(s);
    $("away-reason").hidden = $("btn-away").hidden;
    $("btn-logout").hidden = !["ready", "away", "missed", "wrapup"].includes(s);
    $("btn-extend").hidden = !(s === "wrapup" && !state.wrapup_extended);
    tick();
  }

  function tick() {
    $("state-time").textContent = state && state.since ? MDG.duration(MDG.clock() - state.since) : "";
  }

  function showPop(p) {
    const panel = $("pop");
    if (!p) {
      pop = null;
      panel.hidden = true;
      panel.dataset.uniqueid = "";
      $("no-call").hidden = false;
      return;
    }
    const fresh = !pop || pop.uniqueid !== p.uniqueid;
    pop = p;
    panel.dataset.uniqueid = p.uniqueid;
    $("pop-caller").textContent = p.caller;
    $("pop-line").textContent = `${p.line_name} (${p.line})`;
    $("pop-menu").textContent = (p.menu_path || []).join(" › ");
    $("pop-language").textContent = p.language === "en" ? "English" : "日本語";
    $("pop-waited").textContent = MDG.duration(p.waited_seconds);
    const body = $("pop-history").querySelector("tbody");
    body.replaceChildren();
    if (!p.history.length) {
      const row = document.createElement("tr");
      MDG.cell(row, MDG.word(p.history_unavailable ? "history_unavailable" : "no_previous"))
        .colSpan = 5;
      body.appendChild(row);
    }
    for (const h of p.history) {
      const row = document.createElement("tr");
      MDG.cell(row, MDG.when(h.date));
      MDG.cell(row, h.line_name);
      MDG.cell(row, h.outcome || h.result);
      MDG.cell(row, h.category);
      MDG.cell(row, h.note);
      body.appendChild(row);
    }
    if (fresh) {
      $("disposition").reset();
      $("callback").hidden = true;
      MDG.say("dispo-msg", "");
      MDG.say("control-msg", "");
      held = false;
      $("btn-hold").textContent = MDG.word("hold");
    }
    $("no-call").hidden = true;
    panel.hidden = false;
    panel.dataset.answered = p.answered ? "1" : "0";
    if (fresh && !(p.uniqueid in window.mdgPopShown)) {
      window.mdgPopShown[p.uniqueid] = Date.now() / 1000;
    }
  }

  function onMessage(m) {
    switch (m.type) {
      case "hello":
        state = m.state; renderState(); showPop(m.pending || null); break;
      case "state":
        state = m.state; renderState();
        if (pop && !m.pending && !pop.answered) showPop(null);  // the offer went away
        break;
      case "pop":
        showPop(m.pop); break;
      case "answered":
        if (pop && pop.uniqueid === m.uniqueid) { pop.answered = true; $("pop").dataset.answered = "1"; }
        break;
      case "disposed":
        if (pop && pop.uniqueid === m.uniqueid) showPop(null);
        break;
    }
  }

  async function stateAction(action) {
    const body = action === "away" ? {reason: $("away-reason").value} : {};
    const result = await MDG.api("POST", `/api/agents/${encodeURIComponent(me)}/${action}`, body);
    if (result.ok) { state = result.data; renderState(); MDG.say("state-msg", ""); }
    else MDG.say("state-msg", MDG.errorText(result), true);
  }
  for (const id of ["btn-login", "btn-ready", "btn-away", "btn-logout"]) {
    $(id).addEventListener("click", () => stateAction($(id).dataset.action));
  }
  $("btn-extend").addEventListener("click", () => stateAction("wrapup/extend"));

  $("disposition").addEventListener("change", (event) => {
    if (event.target.name === "outcome") {
      $("callback").hidden = event.target.value !== "エスカレーション";
    }
  });
  $("disposition").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!pop) return;
    const form = $("disposition");
    const outcome = form.querySelector("input[name=outcome]:checked").value;
    const body = {uniqueid: pop.uniqueid, outcome,
                  category: $("dispo-category").value || null,
                  complaint: $("dispo-complaint").checked,
                  faq_prescribed: $("dispo-faq").checked,
                  note: $("dispo-note").value};
    if (outcome === "エスカレーション") {
      body.callback = {name: $("cb-name").value, number: $("cb-number").value,
                       question: $("cb-question").value, department: $("cb-department").value};
    }
    $("btn-dispose").disabled = true;
    const result = await MDG.api("POST", `/api/agents/${encodeURIComponent(me)}/disposition`, body);
    $("btn-dispose").disabled = false;
    if (result.ok) {
      state = result.data; renderState(); showPop(null);
    } else {
      const d = result.data || {};
      const details = Array.isArray(d.details) ? " " + d.details.map((x) => x.problem || x).join("; ") : "";
      MDG.say("dispo-msg", MDG.errorText(result) + details, true);
    }
  });

  async function control(method, path, body) {
    if (!pop) return;
    const result = await MDG.api(method, `/api/calls/${encodeURIComponent(pop.uniqueid)}/${path}`, body);
    MDG.say("control-msg", result.ok ? MDG.word("done") : MDG.errorText(result), !result.ok);
    return result;
  }
  $("btn-transfer").addEventListener("click", () =>
    control("POST", "transfer", {target: $("ctl-target").value, mode: $("ctl-mode").value}));
  $("btn-conf-add").addEventListener("click", () =>
    control("POST", "conference", {target: $("ctl-target").value}));
  $("btn-conf-drop").addEventListener("click", () => control("DELETE", "conference"));
  $("btn-hold").addEventListener("click", async () => {
    const result = await control("POST", "hold", {on: !held});
    if (result && result.ok) {
      held = !held;
      $("btn-hold").textContent = MDG.word(held ? "unhold" : "hold");
    }
  });
  $("btn-rec-start").addEventListener("click", () => control("POST", "recording", {action: "start"}));
  $("btn-rec-stop").addEventListener("click", () => control("POST", "recording", {action: "stop"}));

  setInterval(tick, 1000);
  MDG.live(onMessage);
})();
