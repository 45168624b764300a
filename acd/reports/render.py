"""KPI reports as CSV (UTF-8 with BOM, opens in Japanese Excel) and HTML, Japanese labels
by default, English with ``lang="en"``. Targets are shown next to their figure with
met / missed (達成 / 未達); a report without any call says so (着信なし / no calls)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape

from acd.reports.kpi import JST, Figures, Kpis

#: The contract targets (KPI.md): figure ≥ target, in percent.
DEFAULT_TARGETS: dict[str, float] = {"answer_rate": 90.0, "quick_answer_rate": 90.0,
                                     "first_contact_resolution": 40.0,
                                     "first_response_rate": 95.0}

# key, 日本語, English, kind (count | pct | sec | num)
SUMMARY = [
    ("offered", "着信件数", "Offered calls", "count"),
    ("answered", "応答件数", "Answered calls", "count"),
    ("unanswered", "不応答件数", "Unanswered calls", "count"),
    ("answer_rate", "応答率", "Answer rate", "pct"),
    ("abandoned", "放棄呼", "Abandoned calls", "count"),
    ("abandoned_in_queue", "放棄呼（待ち呼）", "Abandoned in the queue", "count"),
    ("abandoned_mean_wait", "放棄までの平均待ち時間（秒）", "Mean wait before abandoning (s)",
     "sec"),
    ("overflow", "あふれ呼", "Overflow calls", "count"),
    ("voicemail", "録音メッセージ", "Voicemail messages", "count"),
    ("after_hours", "時間外着信", "After-hours calls", "count"),
    ("event_info", "イベント案内回線着信（別計上）", "Event-information line calls (apart)",
     "count"),
    ("quick_answered", "10秒以内応答件数", "Answered within 10 s", "count"),
    ("quick_answer_rate", "即応率", "Quick-answer rate", "pct"),
    ("dispositions", "対応記録件数", "Dispositions", "count"),
    ("completed", "完了", "Completed", "count"),
    ("handed_over", "取次", "Handed over", "count"),
    ("transferred", "転送", "Transferred", "count"),
    ("escalated", "エスカレーション", "Escalated", "count"),
    ("other", "その他", "Other", "count"),
    ("first_contact_resolution", "一次完結率", "First-contact resolution", "pct"),
    ("first_response_rate", "一次対応率", "First-response rate", "pct"),
    ("transfer_rate", "転送率", "Transfer rate", "pct"),
    ("aht", "平均通話時間（秒）", "Mean talk time (s)", "sec"),
    ("aht_completed", "平均通話時間（コールセンター完結）（秒）",
     "Mean talk time, completed (s)", "sec"),
    ("aht_transferred", "平均通話時間（職員取次）（秒）", "Mean talk time, handed to staff (s)",
     "sec"),
    ("complaints", "苦情件数", "Complaints", "count"),
    ("escalation_count", "エスカレーション件数", "Escalations", "count"),
    ("staffing_mean", "オペレーター配置人数（平均）", "Agents logged in (mean)", "num"),
    ("staffing_max", "オペレーター配置人数（最大）", "Agents logged in (max)", "count"),
    ("occupancy", "稼働率", "Occupancy", "pct"),
]
BREAKDOWN = ["offered", "answered", "answer_rate", "abandoned", "overflow", "voicemail",
             "quick_answer_rate", "first_contact_resolution", "transfer_rate", "after_hours"]
LABELS = {key: (ja, en) for key, ja, en, _ in SUMMARY}
KINDS = {key: kind for key, _, _, kind in SUMMARY}
WORDS = {
    "title": ("KPIレポート", "KPI report"), "period": ("期間", "Period"),
    "line": ("回線", "Line"), "queue": ("キュー", "Queue"), "all": ("すべて", "all"),
    "generated": ("作成日時", "Generated"), "no_calls": ("着信なし", "no calls"),
    "no_calls_text": ("この期間の着信はありません", "There were no calls in this period"),
    "figure": ("指標", "Figure"), "value": ("値", "Value"), "target": ("目標", "Target"),
    "judgement": ("判定", "Met"), "met": ("達成", "met"), "missed": ("未達", "missed"),
    "by_day": ("日別", "By day"), "by_hour": ("時間帯別", "By hour"),
    "by_line": ("回線別", "By line"), "by_queue": ("キュー別", "By queue"),
    "by_category": ("カテゴリ別問合せ件数", "Calls by category"),
    "by_agent": ("オペレーター別", "By agent"), "escalations": ("エスカレーション一覧",
                                                                  "Escalations"),
    "date": ("日付", "Date"), "hour": ("時間帯", "Hour"), "category": ("カテゴリ", "Category"),
    "count": ("件数", "Calls"), "uncategorised": ("未分類", "uncategorised"),
    "agent": ("オペレーター", "Agent"), "calls": ("応答件数", "Answered"),
    "talk": ("通話時間（秒）", "Talk (s)"), "logged_in": ("ログイン時間（秒）",
                                                       "Logged in (s)"),
    "on_call": ("通話中（秒）", "On call (s)"), "wrapup": ("後処理（秒）", "Wrap-up (s)"),
    "away": ("離席（秒・理由別）", "Away (s, by reason)"), "occupancy": ("稼働率", "Occupancy"),
    "staffing_mean": ("配置人数（平均）", "Agents (mean)"),
    "staffing_max": ("配置人数（最大）", "Agents (max)"),
    "uniqueid": ("受付番号", "Call id"), "entered": ("着信日時", "Arrived"),
    "outcome": ("対応結果", "Outcome"), "complaint": ("苦情", "Complaint"),
    "note": ("メモ", "Note"), "yes": ("あり", "yes"),
    "notes": ("注記", "Notes"),
    "legend_answered": ("応答", "answered"), "legend_unanswered": ("不応答（着信件数との差）",
                                                                  "not answered (of offered)"),
    "note_fcr": ("一次完結率の分母から職員からの電話はまだ除けていません（その他のみ除外）。",
                 "First-contact resolution: staff calls cannot be excluded yet (only 'other')."),
    "note_frr": ("一次対応率は（完了＋取次＋転送）÷対応記録件数の近似です。",
                 ("First-response rate is approximated as (completed + handed over + "
                  "transferred) / dispositions.")),
    "note_agents": ("配置人数・稼働率はセンター全体（回線・キューで絞り込みません）。",
                    "Staffing and occupancy are centre-wide (not filtered by line/queue)."),
}


def _w(key: str, lang: str) -> str:
    ja, en = WORDS[key]
    return en if lang == "en" else ja


def label(key: str, lang: str) -> str:
    ja, en = LABELS[key]
    return en if lang == "en" else ja


def value(kpis: Kpis, key: str) -> Any:
    if key == "escalation_count":
        return len(kpis.escalations)
    if key == "staffing_mean":
        return kpis.staffing.mean
    if key == "staffing_max":
        return kpis.staffing.max
    if key == "occupancy":
        return kpis.occupancy
    return getattr(kpis.overall, key)


def fmt(v: Any, kind: str, none: str = "") -> str:
    if v is None:
        return none
    if kind == "count":
        return str(int(v))
    if kind in ("pct", "sec", "num"):
        return f"{v:.1f}" if kind != "num" else f"{v:.2f}"
    return str(v)


def judge(v: float | None, target: float | None) -> bool | None:
    if v is None or target is None:
        return None
    return v >= target


def _period(kpis: Kpis) -> tuple[str, str]:
    return (kpis.start.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"),
            kpis.end.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"))


def _breakdown_rows(items: Mapping[Any, Figures], lang: str, first=str) -> list[list[str]]:
    return [[first(k), *[fmt(getattr(f, key), KINDS[key]) for key in BREAKDOWN]]
            for k, f in items.items()]


def _sections(kpis: Kpis, lang: str, targets: Mapping[str, float]) -> dict[str, Any]:
    """Everything a report shows, as strings, shared by CSV and HTML."""
    summary = []
    for key, *_ in SUMMARY:
        v = value(kpis, key)
        target = targets.get(key)
        ok = judge(v, target)
        summary.append({"key": key, "label": label(key, lang), "value": fmt(v, KINDS[key]),
                        "target": f"≥ {target:g}" if target is not None else "",
                        "met": ok, "judgement": "" if ok is None else
                        _w("met" if ok else "missed", lang)})
    head = [_w("date", lang), *[label(k, lang) for k in BREAKDOWN]]
    hours = {f"{h:02d}:00-{(h + 1) % 24:02d}:00": f for h, f in kpis.by_hour.items()}
    hour_rows = _breakdown_rows(hours, lang)
    for row, h in zip(hour_rows, range(24)):
        s = kpis.staffing_by_hour.get(h)
        row += [fmt(s.mean if s else None, "num"), fmt(s.max if s else None, "count")]
    agents = [[a.agent, str(a.calls), fmt(a.talk_seconds, "sec"), fmt(a.logged_in_seconds, "sec"),
               fmt(a.on_call_seconds, "sec"), fmt(a.wrapup_seconds, "sec"),
               " ".join(f"{r}:{s:.0f}" for r, s in sorted(a.away_seconds.items())),
               fmt(a.occupancy, "pct")] for a in kpis.agents.values()]
    escalations = [[e.uniqueid, datetime.fromtimestamp(e.entered_at, JST).strftime(
        "%Y-%m-%d %H:%M:%S"), e.line, e.queue, e.agent, e.outcome, e.category or "",
        _w("yes", lang) if e.complaint else "", e.note] for e in kpis.escalations]
    return {
        "lang": lang, "title": _w("title", lang), "period": _period(kpis),
        "line": kpis.line or _w("all", lang), "queue": kpis.queue or _w("all", lang),
        "generated": kpis.generated_at.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"),
        "empty": kpis.empty, "summary": summary,
        "tables": [
            (_w("by_day", lang), head, _breakdown_rows(kpis.by_day, lang, lambda d: d.isoformat())),
            (_w("by_hour", lang), [_w("hour", lang), *head[1:], _w("staffing_mean", lang),
                                   _w("staffing_max", lang)], hour_rows),
            (_w("by_line", lang), [_w("line", lang), *head[1:]],
             _breakdown_rows(kpis.by_line, lang)),
            (_w("by_queue", lang), [_w("queue", lang), *head[1:]],
             _breakdown_rows(kpis.by_queue, lang)),
            (_w("by_category", lang), [_w("category", lang), _w("count", lang)],
             [[c if c is not None else _w("uncategorised", lang), str(n)]
              for c, n in kpis.by_category.items()]),
            (_w("by_agent", lang), [_w("agent", lang), _w("calls", lang), _w("talk", lang),
                                    _w("logged_in", lang), _w("on_call", lang),
                                    _w("wrapup", lang), _w("away", lang),
                                    _w("occupancy", lang)], agents),
            (_w("escalations", lang), [_w("uniqueid", lang), _w("entered", lang),
                                       _w("line", lang), _w("queue", lang), _w("agent", lang),
                                       _w("outcome", lang), _w("category", lang),
                                       _w("complaint", lang), _w("note", lang)], escalations),
        ],
        "notes": [_w("note_fcr", lang), _w("note_frr", lang), _w("note_agents", lang)],
        "hour_bars": [(f"{h:02d}", f.offered, f.answered) for h, f in kpis.by_hour.items()],
        "w": lambda key: _w(key, lang),
    }


def render_csv(kpis: Kpis, lang: str = "ja",
               targets: Mapping[str, float] | None = None) -> bytes:
    s = _sections(kpis, lang, DEFAULT_TARGETS if targets is None else targets)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([s["title"]])
    w.writerow([_w("period", lang), *s["period"]])
    w.writerow([_w("line", lang), s["line"]])
    w.writerow([_w("queue", lang), s["queue"]])
    w.writerow([_w("generated", lang), s["generated"]])
    if s["empty"]:
        w.writerow([_w("no_calls", lang), _w("no_calls_text", lang)])
    w.writerow([])
    w.writerow([_w("figure", lang), _w("value", lang), _w("target", lang),
                _w("judgement", lang)])
    for row in s["summary"]:
        w.writerow([row["label"], row["value"], row["target"], row["judgement"]])
    for title, head, rows in s["tables"]:
        w.writerow([])
        w.writerow([title])
        w.writerow(head)
        w.writerows(rows)
    w.writerow([])
    w.writerow([_w("notes", lang)])
    for note in s["notes"]:
        w.writerow([note])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


_HTML = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }} {{ period[0] }}</title>
<style>
body{font-family:"Noto Sans JP","Hiragino Sans",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:.2em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
.met{color:#0a6b2e;font-weight:bold}.missed{color:#b00020;font-weight:bold}
.nocalls{font-size:1.3em;padding:.5em;border:2px solid #888;display:inline-block}
.bars{display:flex;align-items:flex-end;height:120px;gap:2px;border-bottom:1px solid #888}
.bar{width:18px;background:#c9d3dd;display:flex;flex-direction:column;justify-content:flex-end}
.bar span{display:block;background:#357}.legend{font-size:.85em}.legend i{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em}
td{white-space:nowrap}
.labels{display:flex;gap:2px;font-size:10px}.labels div{width:18px;text-align:center}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ w("period") }}: {{ period[0] }} – {{ period[1] }} ・ {{ w("line") }}: {{ line }}
 ・ {{ w("queue") }}: {{ queue }} ・ {{ w("generated") }}: {{ generated }}</p>
{% if empty %}<p class="nocalls" id="no-calls">{{ w("no_calls") }}: {{ w("no_calls_text") }}</p>{% endif %}
<table id="summary"><tr><th>{{ w("figure") }}</th><th>{{ w("value") }}</th>
<th>{{ w("target") }}</th><th>{{ w("judgement") }}</th></tr>
{% for r in summary %}<tr data-key="{{ r.key }}"><td>{{ r.label }}</td><td>{{ r.value or "—" }}</td>
<td>{{ r.target }}</td><td{% if r.met is not none %} class="{{ 'met' if r.met else 'missed' }}"{% endif %}>{{ r.judgement }}</td></tr>
{% endfor %}</table>
<h2>{{ w("by_hour") }}</h2>
{% set top = hour_bars | map(attribute=1) | max %}
<div class="bars">{% for h, offered, answered in hour_bars %}<div class="bar" title="{{ h }}: {{ answered }}/{{ offered }}" style="height:{{ (100 * offered / top) if top else 0 }}%"><span style="height:{{ (100 * answered / offered) if offered else 0 }}%"></span></div>{% endfor %}</div>
<div class="labels">{% for h, _, _ in hour_bars %}<div>{{ h }}</div>{% endfor %}</div>
<p class="legend"><i style="background:#357"></i>{{ w("legend_answered") }}<i style="background:#c9d3dd"></i>{{ w("legend_unanswered") }}</p>
{% for title, head, rows in tables %}<h2>{{ title }}</h2>
<table><tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endfor %}
<h2>{{ w("notes") }}</h2><ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
</body></html>
"""
_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_HTML)


def render_html(kpis: Kpis, lang: str = "ja",
                targets: Mapping[str, float] | None = None) -> bytes:
    s = _sections(kpis, lang, DEFAULT_TARGETS if targets is None else targets)
    return _template.render(**s).encode("utf-8")


__all__ = ["DEFAULT_TARGETS", "render_csv", "render_html"]
