/* The supervisor console: the live wallboard (pushed), force away / log out, listen /
   whisper / barge from the supervisor's own phone, the emergency switch, voicemail and
   escalations. */
"use strict";
(() => {
  let board = null;
  const $ = (id) => document.getElementById(id);
  const pct = (v) => (v === null || v === undefined ? "-" : `${v.toFixed(1)}%`);

  function renderBoard() {
    if (!board) return;
    $("wb-day").textContent = board.day;
    const now = MDG.clock();
    const qBody = $("wb-queues").querySelector("tbody");
    qBody.replaceChildren();
    for (const q of board.queues) {
      const row = document.createElement("tr");
      row.dataset.queue = q.name;
      MDG.cell(row, q.name);
      MDG.cell(row, q.waiting, "waiting");
      MDG.cell(row, q.oldest_joined_at ? MDG.duration(now - q.oldest_joined_at) : "-", "longest-wait");
      MDG.cell(row, q.offered, "offered");
      MDG.cell(row, q.answered, "answered");
      MDG.cell(row, q.abandoned, "abandoned");
      MDG.cell(row, q.overflow, "overflow");
      MDG.cell(row, pct(q.answer_rate), "answer-rate");
      MDG.cell(row, pct(q.quick_answer_rate), "quick-answer-rate");
      MDG.cell(row, pct(q.service_level), "service-level");
      qBody.appendChild(row);
    }
    const aBody = $("wb-agents").querySelector("tbody");
    aBody.replaceChildren();
    for (const a of board.agents) {
      const row = document.createElement("tr");
      row.dataset.agent = a.id;
      row.dataset.status = a.status;
      MDG.cell(row, `${a.name} (${a.id})`);
      MDG.cell(row, MDG.statusWord(a.status) + (a.reason && a.status !== "ready" ? ` / ${MDG.reasonWord(a.reason)}` : ""), "status");
      MDG.cell(row, a.since ? MDG.duration(now - a.since) : "-", "since").dataset.since = a.since;
      MDG.cell(row, a.calls_today, "calls-today");
      MDG.cell(row, pct(a.occupancy), "occupancy");
      const actions = MDG.cell(row, "");
      if (["ready", "missed", "wrapup"].includes(a.status)) {
        actions.appendChild(MDG.button(MDG.word("force_away"), () => agentAction(a.id, "away"), "force-away"));
      }
      if (["ready", "away", "missed", "wrapup"].includes(a.status)) {
        actions.appendChild(MDG.button(MDG.word("force_logout"), () => agentAction(a.id, "logout"), "force-logout"));
      }
      if (a.status === "on_call" && a.call) {
        for (const mode of ["listen", "whisper", "barge"]) {
          actions.appendChild(MDG.button(MDG.word(mode), () => monitor(a.call, mode), `monitor-${mode}`));
        }
      }
      aBody.appendChild(row);
    }
  }

  function tick() {
    if (!board) return;
    const now = MDG.clock();
    for (const td of document.querySelectorAll("#wb-agents td.since")) {
      const since = Number(td.dataset.since);
      td.textContent = since ? MDG.duration(now - since) : "-";
    }
    for (const q of board.queues) {
      const row = document.querySelector(`#wb-queues tr[data-queue="${CSS.escape(q.name)}"] td.longest-wait`);
      if (row && q.oldest_joined_at) row.textContent = MDG.duration(now - q.oldest_joined_at);
    }
  }

  async function agentAction(agent, action) {
    const body = action === "away" ? {reason: $("force-reason").value} : {};
    const result = await MDG.api("POST", `/api/agents/${encodeURIComponent(agent)}/${action}`, body);
    MDG.say("sup-msg", result.ok ? MDG.word("done") : MDG.errorText(result), !result.ok);
  }

  async function monitor(uniqueid, mode) {
    const extension = MDG.config.extension;
    if (!extension) { MDG.say("sup-msg", MDG.word("no_extension"), true); return; }
    const result = await MDG.api("POST", `/api/calls/${encodeURIComponent(uniqueid)}/monitor`,
                                 {mode, extension});
    MDG.say("sup-msg", result.ok ? MDG.word("done") : MDG.errorText(result), !result.ok);
  }

  async function loadVoicemails() {
    const result = await MDG.api("GET", "/api/voicemails");
    if (!result.ok) return;
    const body = $("voicemails").querySelector("tbody");
    body.replaceChildren();
    for (const v of result.data) {
      const row = document.createElement("tr");
      row.dataset.uniqueid = v.uniqueid;
      MDG.cell(row, MDG.when(v.left_at));
      MDG.cell(row, v.caller);
      MDG.cell(row, v.line);
      MDG.cell(row, v.seconds);
      MDG.cell(row, v.assigned_to || "");
      MDG.cell(row, v.handled_at ? `${MDG.when(v.handled_at)} ${v.handled_by || ""}` : "", "handled");
      const actions = MDG.cell(row, "");
      actions.appendChild(Followups.assignControl(`/api/voicemails/${encodeURIComponent(v.uniqueid)}/assign`, v.assigned_to, loadVoicemails));
      if (!v.handled_at) {
        actions.appendChild(MDG.button(MDG.word("mark_handled"), async () => {
          await MDG.api("POST", `/api/voicemails/${encodeURIComponent(v.uniqueid)}/handled`, {});
          loadVoicemails();
        }, "mark-handled"));
      }
      body.appendChild(row);
    }
  }

  async function loadEmergency() {
    const result = await MDG.api("GET", "/api/emergency");
    if (!result.ok) return;
    const select = $("em-line");
    if (select.options.length === 1) {
      for (const line of result.data.lines) {
        const option = document.createElement("option");
        option.value = line;
        option.textContent = line;
        select.appendChild(option);
      }
    }
    const body = $("em-in-force").querySelector("tbody");
    body.replaceChildren();
    for (const s of result.data.in_force) {
      const row = document.createElement("tr");
      row.dataset.line = s.line;
      MDG.cell(row, s.line === "all" ? MDG.word("emergency_all") : s.line);
      MDG.cell(row, s.text || `[${s.prompt}]`);
      MDG.cell(row, MDG.word(`mode_${s.mode}`));
      MDG.cell(row, MDG.when(s.on_at));
      MDG.cell(row, s.on_by);
      MDG.cell(row, "").appendChild(MDG.button(MDG.word("emergency_off"), async () => {
        const off = await MDG.api("DELETE", `/api/emergency/${encodeURIComponent(s.line)}`);
        MDG.say("em-msg", off.ok ? MDG.word("done") : MDG.errorText(off), !off.ok);
        loadEmergency();
      }, "emergency-off"));
      body.appendChild(row);
    }
    if (!result.data.in_force.length) {
      const row = document.createElement("tr");
      MDG.cell(row, MDG.word("emergency_none")).colSpan = 6;
      body.appendChild(row);
    }
  }

  $("em-on").addEventListener("click", async () => {
    const result = await MDG.api("POST", "/api/emergency", {
      line: $("em-line").value, mode: $("em-mode").value, text: $("em-text").value.trim()});
    MDG.say("em-msg", result.ok ? MDG.word("done") : MDG.errorText(result), !result.ok);
    loadEmergency();
  });

  MDG.live((m) => {
    if (m.wallboard) { board = m.wallboard; renderBoard(); }
  });
  setInterval(tick, 1000);
  loadVoicemails();
  loadEmergency();
  Followups.loadEscalations();
  setInterval(() => { loadVoicemails(); loadEmergency(); Followups.loadEscalations(); }, 30000);
})();
