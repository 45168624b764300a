/* The escalation (callback) list, shared by the supervisor and viewer pages; editable
   (assign, mark handled) when the table says data-editable="1". */
"use strict";
const Followups = (() => {
  const table = document.getElementById("escalations");
  const editable = table && table.dataset.editable === "1";

  async function loadEscalations() {
    if (!table) return;
    const result = await MDG.api("GET", "/api/escalations");
    if (!result.ok) return;
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const e of result.data) {
      const row = document.createElement("tr");
      row.dataset.id = e.id;
      MDG.cell(row, MDG.when(e.created_at));
      MDG.cell(row, e.callback_name);
      MDG.cell(row, e.callback_number);
      MDG.cell(row, e.question);
      MDG.cell(row, e.department);
      MDG.cell(row, e.agent);
      MDG.cell(row, e.assigned_to || "");
      MDG.cell(row, e.handled_at ? `${MDG.when(e.handled_at)} ${e.handled_by || ""}` : "", "handled");
      if (editable) {
        const actions = MDG.cell(row, "");
        actions.appendChild(assignControl(`/api/escalations/${e.id}/assign`, e.assigned_to, loadEscalations));
        if (!e.handled_at) {
          actions.appendChild(MDG.button(MDG.word("mark_handled"), async () => {
            await MDG.api("POST", `/api/escalations/${e.id}/handled`, {});
            loadEscalations();
          }, "mark-handled"));
        }
      }
      body.appendChild(row);
    }
  }

  function assignControl(url, current, reload) {
    const span = document.createElement("span");
    const input = document.createElement("input");
    input.setAttribute("list", "assignees");
    input.size = 10;
    input.value = current || "";
    span.appendChild(input);
    span.appendChild(MDG.button(MDG.word("assign"), async () => {
      await MDG.api("POST", url, {to: input.value || null});
      reload();
    }, "assign"));
    return span;
  }

  return {loadEscalations, assignControl};
})();
