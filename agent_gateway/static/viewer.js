/* The viewer (city staff) page: the escalation list, read only, the month's rating of
   the centre (職員満足度), and the reports. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);

  async function loadRatings() {
    const result = await MDG.api("GET", "/api/staff-ratings");
    if (!result.ok) return;
    $("sr-month").textContent = result.data.month;
    const n = result.data.ratings.length;
    $("sr-summary").textContent = n ? MDG.word("staff_summary")
      .replace("{mean}", result.data.mean.toFixed(1)).replace("{n}", n) : "";
  }

  $("sr-send").addEventListener("click", async () => {
    const score = Number($("sr-score").value);
    const result = await MDG.api("POST", "/api/staff-ratings",
                                 {score, comment: $("sr-comment").value});
    MDG.say("sr-msg", result.ok ? MDG.word("done") : MDG.errorText(result), !result.ok);
    if (result.ok) { $("sr-comment").value = ""; loadRatings(); }
  });
  loadRatings();

  Followups.loadEscalations();
  setInterval(Followups.loadEscalations, 30000);
  const form = document.getElementById("report-form");
  const date = document.getElementById("report-date");
  date.value = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  form.addEventListener("submit", (event) => {
    const kind = document.getElementById("report-kind").value;
    form.action = `/api/reports/${kind}`;
    if (kind === "weekly") {
      event.preventDefault();
      const d = new Date(date.value + "T00:00:00Z");
      const day = (d.getUTCDay() + 6) % 7;
      d.setUTCDate(d.getUTCDate() - day + 3);
      const firstThursday = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
      const week = 1 + Math.round(((d - firstThursday) / 86400000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7);
      const params = new URLSearchParams(new FormData(form));
      params.delete("date");
      params.set("week", `${d.getUTCFullYear()}-W${String(week).padStart(2, "0")}`);
      window.open(`${form.action}?${params}`, "_blank");
    }
  });
})();
