"""KPI reports as CSV (UTF-8 with BOM, opens in Japanese Excel) and HTML, Japanese labels
by default, English with ``lang="en"``. Targets are shown next to their figure with
met / missed (達成 / 未達), and whose targets they are (the line's, the site default or the
contract figures: ``kpis.targets``); a report without any call says so (着信なし / no calls)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from acd.domain.agents import STANDARD_AWAY_REASONS
from acd.domain.clock import JST
from acd.reports.figures import (
    ABANDONED_WAIT_BUCKETS,
    QUICK_ANSWER_SECONDS,
    Figures,
    Kpis,
    Targets,
)

#: The contract targets (KPI.md): figure ≥ target, in percent.
DEFAULT_TARGETS: dict[str, float] = Targets().rates

# key, 日本語, English, kind (count | pct | sec | num)
SUMMARY = [
    ("offered", "着信件数", "Offered calls", "count"),
    ("answered", "応答件数", "Answered calls", "count"),
    ("unanswered", "不応答件数", "Unanswered calls", "count"),
    ("answer_rate", "応答率", "Answer rate", "pct"),
    ("abandoned", "放棄呼", "Abandoned calls", "count"),
    ("abandoned_in_queue", "放棄呼（待ち呼）", "Abandoned in the queue", "count"),
    ("abandoned_in_menu", "放棄呼（メニュー）", "Abandoned in the menus", "count"),
    ("abandoned_mean_wait", "放棄までの平均待ち時間（秒）", "Mean wait before abandoning (s)",
     "sec"),
    ("overflow", "あふれ呼", "Overflow calls", "count"),
    ("voicemail", "録音メッセージ", "Voicemail messages", "count"),
    ("after_hours", "時間外着信", "After-hours calls", "count"),
    ("event_info", "イベント案内回線着信（別計上）", "Event-information line calls (apart)",
     "count"),
    ("emergency_heard", "緊急案内を聞いた着信", "Calls that heard the emergency announcement",
     "count"),
    ("emergency_ended", "緊急案内で終了した着信（別計上）",
     "Calls ended by the emergency announcement (apart)", "count"),
    ("quick_answered", "{seconds}秒以内応答件数", "Answered within {seconds} s", "count"),
    ("quick_answer_rate", "即応率", "Quick-answer rate", "pct"),
    ("average_speed_of_answer", "平均応答時間（秒）", "Average speed of answer (s)", "sec"),
    ("longest_wait", "最長待ち時間（秒）", "Longest wait (s)", "sec"),
    ("dispositions", "対応記録件数", "Dispositions", "count"),
    ("completed", "完了", "Completed", "count"),
    ("handed_over", "取次", "Handed over", "count"),
    ("transferred", "転送", "Transferred", "count"),
    ("escalated", "エスカレーション", "Escalated", "count"),
    ("other", "その他", "Other", "count"),
    ("first_contact_resolution", "一次完結率", "First-contact resolution", "pct"),
    ("faq_prescribed", "FAQ該当件数", "FAQ-prescribed calls", "count"),
    ("faq_followed", "うちFAQどおり対応", "of which handled as prescribed", "count"),
    ("first_response_rate", "一次対応率", "First-response rate", "pct"),
    ("transfer_rate", "転送率", "Transfer rate", "pct"),
    ("aht", "平均通話時間（秒）", "Mean talk time (s)", "sec"),
    ("aht_completed", "平均通話時間（コールセンター完結）（秒）",
     "Mean talk time, completed (s)", "sec"),
    ("aht_transferred", "平均通話時間（職員取次）（秒）", "Mean talk time, handed to staff (s)",
     "sec"),
    ("complaints", "苦情件数", "Complaints", "count"),
    ("satisfaction", "利用者満足度（100点満点）", "Caller satisfaction (of 100)", "num"),
    ("survey_responses", "満足度調査の回答件数", "Survey responses", "count"),
    ("survey_response_rate", "満足度調査の回答率", "Survey response rate", "pct"),
    ("staff_satisfaction", "職員満足度（月次評価）", "Staff satisfaction (monthly rating)",
     "num"),
    ("staff_ratings", "職員満足度の評価数", "Staff ratings", "count"),
    ("escalation_count", "エスカレーション件数", "Escalations", "count"),
    ("staffing_mean", "オペレーター配置人数（平均）", "Agents logged in (mean)", "num"),
    ("staffing_max", "オペレーター配置人数（最大）", "Agents logged in (max)", "count"),
    ("occupancy", "稼働率", "Occupancy", "pct"),
]
BREAKDOWN = ["offered", "answered", "answer_rate", "abandoned", "overflow", "voicemail",
             "quick_answer_rate", "first_contact_resolution", "transfer_rate", "after_hours",
             "satisfaction", "survey_responses"]
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
    "talk": ("通話時間", "Talk"), "logged_in": ("ログイン時間", "Logged in"),
    "on_call": ("通話中", "On call"), "wrapup": ("後処理", "Wrap-up"),
    "occupancy": ("稼働率（%）", "Occupancy (%)"),
    "staffing_mean": ("配置人数（平均）", "Agents (mean)"),
    "staffing_max": ("配置人数（最大）", "Agents (max)"),
    "uniqueid": ("受付番号", "Call id"), "entered": ("着信日時", "Arrived"),
    "outcome": ("対応結果", "Outcome"), "complaint": ("苦情", "Complaint"),
    "note": ("メモ", "Note"), "yes": ("あり", "yes"),
    "by_half_hour": ("30分間隔別サービスレベル", "Service level by half-hour"),
    "interval": ("時間帯", "Interval"),
    "service_level": ("サービスレベル（{seconds}秒以内応答率）",
                      "Service level (answered within {seconds} s)"),
    "abandoned_waits": ("放棄呼の待ち時間分布", "Abandoned calls by wait"),
    "wait": ("待ち時間", "Wait"), "share": ("割合（%）", "Share (%)"),
    "complaints_list": ("苦情一覧", "Complaints"),
    "notes": ("注記", "Notes"),
    "legend_answered": ("応答", "answered"), "legend_unanswered": ("不応答（放棄・あふれ）",
                                                                  "not answered"),
    "note_fcr": ("一次完結率の分母から職員からの電話はまだ除けていません（その他のみ除外）。",
                 "First-contact resolution: staff calls cannot be excluded yet (only 'other')."),
    "note_frr": ("一次対応率はFAQ該当（対応記録の「FAQどおり」）のうち完了・取次・転送の割合です。",
                 ("First-response rate: completed, handed over or transferred among the "
                  "calls marked FAQ-prescribed in the disposition.")),
    "note_agents": ("配置人数・稼働率はセンター全体（回線・キューで絞り込みません）。",
                    "Staffing and occupancy are centre-wide (not filtered by line/queue)."),
    "away_reason": ("離席（{reason}）", "Away ({reason})"),
    "calls_axis": ("件数", "Calls"), "target_line": ("応答率目標 {target:g}%",
                                                   "Answer-rate target {target:g}%"),
    "chart_hour": ("時間帯別 着信件数・応答率", "Calls and answer rate by hour"),
    "chart_day": ("日別 着信件数・応答率", "Calls and answer rate by day"),
    "charts": ("グラフ", "Charts"), "page": ("ページ", "Page"),
    "summary": ("概要", "Summary"), "no_rows": ("該当なし", "none"),
    "targets_used": ("目標値", "Targets"),
    "targets_line": ("回線 {line} の設定（targets）", "line {line}'s own (targets)"),
    "targets_site": ("サイト既定値（report_targets）", "the site default (report_targets)"),
    "targets_site_line": ("サイト既定値（report_targets。回線 {line} に targets の設定なし）",
                          "the site default (report_targets; line {line} has no targets)"),
    "targets_default": ("契約の標準値（report_targets の設定なし）",
                        "the contract figures (no report_targets configured)"),
}


def _w(key: str, lang: str) -> str:
    ja, en = WORDS[key]
    return en if lang == "en" else ja


def label(key: str, lang: str, quick_seconds: float = QUICK_ANSWER_SECONDS) -> str:
    ja, en = LABELS[key]
    return (en if lang == "en" else ja).format(seconds=f"{quick_seconds:g}")


def targets_text(kpis: Kpis, lang: str) -> str:
    """Whose targets the report judges against, e.g. 目標値: 回線 0570000123 の設定."""
    source = kpis.targets.source
    if source == "site" and kpis.line:
        source = "site_line"
    return f"{_w('targets_used', lang)}: " + _w(f"targets_{source}", lang).format(
        line=kpis.line)


def value(kpis: Kpis, key: str) -> Any:
    if key == "escalation_count":
        return len(kpis.escalations)
    if key == "staffing_mean":
        return kpis.staffing.mean
    if key == "staffing_max":
        return kpis.staffing.max
    if key in ("occupancy", "staff_satisfaction", "staff_ratings"):
        return getattr(kpis, key)
    return getattr(kpis.overall, key)


def duration(seconds: float) -> str:
    """H:MM:SS (hours may exceed 24)."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


#: A summary figure with nothing to judge yet (e.g. 一次完結率 without dispositions).
NOTHING_TO_JUDGE = "—"


def fmt(v: Any, kind: str, none: str = "", percent: bool = False) -> str:
    """As text; ``percent`` adds the % sign to rates (HTML, PDF; CSV keeps bare numbers)."""
    if v is None:
        return none
    if kind == "count":
        return str(int(v))
    if kind == "pct":
        return f"{v:.1f}%" if percent else f"{v:.1f}"
    if kind == "sec":
        return f"{v:.1f}"
    if kind == "num":
        return f"{v:.2f}"
    if kind == "dur":
        return duration(v)
    return str(v)


def judge(v: float | None, target: float | None) -> bool | None:
    if v is None or target is None:
        return None
    return v >= target


def _period(kpis: Kpis) -> tuple[str, str]:
    return (kpis.start.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"),
            kpis.end.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"))


WEEKDAYS = ("月", "火", "水", "木", "金", "土", "日")


def day_label(day: date, lang: str) -> str:
    if lang == "en":
        return f"{day.isoformat()} {day:%a}"
    return f"{day.isoformat()}（{WEEKDAYS[day.weekday()]}）"


def period_title(kpis: Kpis, lang: str) -> str:
    """e.g. 2026年11月20日（金） / 2026-11-16 – 2026-11-22 / November 2026."""
    first = kpis.start.astimezone(JST).date()
    last = (kpis.end.astimezone(JST) - timedelta(seconds=1)).date()
    if first == last:
        return (f"{first:%Y-%m-%d %a}" if lang == "en" else
                f"{first.year}年{first.month}月{first.day}日（{WEEKDAYS[first.weekday()]}）")
    if first.day == 1 and (last + timedelta(days=1)).day == 1 and first.month == last.month:
        return f"{first:%B %Y}" if lang == "en" else f"{first.year}年{first.month}月"
    if lang == "en":
        return f"{first.isoformat()} – {last.isoformat()}"
    return (f"{first.year}年{first.month}月{first.day}日（{WEEKDAYS[first.weekday()]}）～"
            f"{last.year}年{last.month}月{last.day}日（{WEEKDAYS[last.weekday()]}）")


def away_label(reason: str, lang: str) -> str:
    if lang == "en":
        return reason
    return STANDARD_AWAY_REASONS.get(reason, reason)


@dataclass
class Table:
    """One breakdown: raw values (numbers stay numbers for XLSX) and a kind per column
    (text | date | count | pct | sec | num | dur)."""

    key: str
    title: str
    head: list[str]
    kinds: list[str]
    rows: list[list[Any]]

    def text_rows(self, lang: str, percent: bool = False) -> list[list[str]]:
        return [[day_label(v, lang) if k == "date" else fmt(v, k, percent=percent)
                 for v, k in zip(row, self.kinds, strict=False)] for row in self.rows]


def _breakdown(key: str, title: str, first: str, first_kind: str,
               items: Mapping[Any, Figures], lang: str) -> Table:
    return Table(key, title, [first, *[label(k, lang) for k in BREAKDOWN]],
                 [first_kind, *[KINDS[k] for k in BREAKDOWN]],
                 [[k, *[getattr(f, b) for b in BREAKDOWN]] for k, f in items.items()])


def half_hour_label(half: int) -> str:
    """e.g. 09:30-10:00 for half-hour 19 of the day."""
    start, end = half * 30, (half + 1) * 30 % (24 * 60)
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def wait_bucket_label(low: float, high: float | None, lang: str) -> str:
    if high is None:
        return f"{low:g} s+" if lang == "en" else f"{low:g}秒超"
    return f"{low:g}-{high:g} s" if lang == "en" else f"{low:g}～{high:g}秒"


def report_tables(kpis: Kpis, lang: str) -> list[Table]:
    """Every breakdown of the report, in the order shown."""
    w = partial(_w, lang=lang)
    by_hour = _breakdown("by_hour", w("by_hour"), w("hour"), "text",
                         {f"{h:02d}:00-{(h + 1) % 24:02d}:00": f
                          for h, f in kpis.by_hour.items()}, lang)
    by_hour.head += [w("staffing_mean"), w("staffing_max")]
    by_hour.kinds += ["num", "count"]
    for row, h in zip(by_hour.rows, range(24), strict=False):
        s = kpis.staffing_by_hour.get(h)
        row += [s.mean if s else None, s.max if s else None]
    reasons = sorted({r for a in kpis.agents.values() for r in a.away_seconds})
    agents = Table("by_agent", w("by_agent"),
                   [w("agent"), w("calls"), w("talk"), w("logged_in"), w("on_call"),
                    w("wrapup"), *[w("away_reason").format(reason=away_label(r, lang))
                                   for r in reasons], w("occupancy"), label("satisfaction", lang),
                    label("survey_responses", lang), label("survey_response_rate", lang)],
                   ["text", "count", "dur", "dur", "dur", "dur", *["dur"] * len(reasons),
                    "pct", "num", "count", "pct"],
                   [[a.agent, a.calls, a.talk_seconds, a.logged_in_seconds, a.on_call_seconds,
                     a.wrapup_seconds, *[a.away_seconds.get(r, 0.0) for r in reasons],
                     a.occupancy, a.survey.satisfaction, a.survey.survey_responses,
                     a.survey.survey_response_rate] for a in kpis.agents.values()])
    seconds = f"{kpis.targets.quick_answer_seconds:g}"
    by_half_hour = Table(
        "by_half_hour", w("by_half_hour"),
        [w("interval"), label("offered", lang), label("answered", lang),
         label("quick_answered", lang, kpis.targets.quick_answer_seconds),
         w("service_level").format(seconds=seconds), label("abandoned", lang)],
        ["text", "count", "count", "count", "pct", "count"],
        [[half_hour_label(h), f.offered, f.answered, f.quick_answered, f.service_level,
          f.abandoned] for h, f in kpis.by_half_hour.items()])
    waits = kpis.overall.abandoned_waits
    waited = sum(waits.values())
    abandoned_waits = Table(
        "abandoned_waits", w("abandoned_waits"), [w("wait"), w("count"), w("share")],
        ["text", "count", "pct"],
        [[wait_bucket_label(low, high, lang), waits[name],
          100.0 * waits[name] / waited if waited else None]
         for name, low, high in ABANDONED_WAIT_BUCKETS])
    complaints = Table(
        "complaints", w("complaints_list"),
        [w("entered"), w("line"), w("agent"), w("category"), w("note"), w("uniqueid")],
        ["text"] * 6,
        [[datetime.fromtimestamp(e.entered_at, JST).strftime("%Y-%m-%d %H:%M:%S"), e.line,
          e.agent, e.category or "", e.note, e.uniqueid] for e in kpis.complaint_calls])
    escalations = Table(
        "escalations", w("escalations"),
        [w("uniqueid"), w("entered"), w("line"), w("queue"), w("agent"), w("outcome"),
         w("category"), w("complaint"), w("note")], ["text"] * 9,
        [[e.uniqueid, datetime.fromtimestamp(e.entered_at, JST).strftime("%Y-%m-%d %H:%M:%S"),
          e.line, e.queue, e.agent, e.outcome, e.category or "",
          w("yes") if e.complaint else "", e.note] for e in kpis.escalations])
    return [
        _breakdown("by_day", w("by_day"), w("date"), "date", kpis.by_day, lang),
        by_hour,
        by_half_hour,
        _breakdown("by_line", w("by_line"), w("line"), "text", kpis.by_line, lang),
        _breakdown("by_queue", w("by_queue"), w("queue"), "text", kpis.by_queue, lang),
        Table("by_category", w("by_category"), [w("category"), w("count")], ["text", "count"],
              [[c if c is not None else w("uncategorised"), n]
               for c, n in kpis.by_category.items()]),
        abandoned_waits,
        agents,
        escalations,
        complaints,
    ]


def summary_rows(kpis: Kpis, lang: str, targets: Mapping[str, float] | None = None,
                 percent: bool = False) -> list[dict[str, Any]]:
    targets = kpis.targets.rates if targets is None else targets
    rows = []
    for key, *_ in SUMMARY:
        v = value(kpis, key)
        target = targets.get(key)
        ok = judge(v, target)
        rows.append({"key": key, "label": label(key, lang, kpis.targets.quick_answer_seconds),
                     "raw": v, "kind": KINDS[key],
                     "value": fmt(v, KINDS[key], NOTHING_TO_JUDGE, percent=percent),
                     "target_value": target,
                     "target": f"≥ {target:g}%" if target is not None else "",
                     "met": ok, "judgement": "" if ok is None else
                     _w("met" if ok else "missed", lang)})
    return rows


def chart_words(lang: str) -> dict[str, str]:
    return {"answered": _w("legend_answered", lang), "unanswered": _w("legend_unanswered", lang),
            "calls": _w("calls_axis", lang), "answer_rate": label("answer_rate", lang),
            "target": _w("target_line", lang), "no_calls": _w("no_calls", lang),
            "none": _w("uncategorised", lang)}


def charts(kpis: Kpis, lang: str, fmt_: str = "svg", width: float = 9.0,
           targets: Mapping[str, float] | None = None) -> list[tuple[str, bytes]]:
    """(caption, image) of the report's charts: by hour, by day (ranges over one day),
    by category; the answer-rate target (``targets``, default the report's) dashed."""
    from acd.reports.charts import (  # heavy (matplotlib): loaded only to draw charts
        Series,
        calls_chart,
        category_chart,
    )

    words = chart_words(lang)
    target = (kpis.targets.rates if targets is None else targets).get("answer_rate")
    hours = Series([f"{h}" for h in kpis.by_hour], [f.offered for f in kpis.by_hour.values()],
                   [f.answered for f in kpis.by_hour.values()])
    result = [(_w("chart_hour", lang), calls_chart(hours, _w("chart_hour", lang), words, fmt_,
                                                   width, target))]
    if len(kpis.by_day) > 1:
        one_month = len({(d.year, d.month) for d in kpis.by_day}) == 1
        days = Series([str(d.day) if one_month else f"{d.month}/{d.day}" for d in kpis.by_day],
                      [f.offered for f in kpis.by_day.values()],
                      [f.answered for f in kpis.by_day.values()])
        result.append((_w("chart_day", lang), calls_chart(days, _w("chart_day", lang), words,
                                                          fmt_, width, target)))
    categories = [(c if c is not None else _w("uncategorised", lang), n)
                  for c, n in kpis.by_category.items()]
    result.append((_w("by_category", lang), category_chart(categories, _w("by_category", lang),
                                                           words, fmt_, width)))
    return result


def sections(kpis: Kpis, lang: str, targets: Mapping[str, float] | None = None,
             percent: bool = False) -> dict[str, Any]:
    """Everything a report shows, as strings, shared by CSV, HTML and PDF; ``targets``
    default to the report's own (``kpis.targets``)."""
    targets = kpis.targets.rates if targets is None else targets
    return {
        "lang": lang, "title": _w("title", lang), "period": _period(kpis),
        "period_title": period_title(kpis, lang),
        "line": kpis.line or _w("all", lang), "queue": kpis.queue or _w("all", lang),
        "generated": kpis.generated_at.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"),
        "targets": targets_text(kpis, lang),
        "empty": kpis.empty, "summary": summary_rows(kpis, lang, targets, percent),
        "tables": [(t.title, t.head, t.text_rows(lang, percent))
                   for t in report_tables(kpis, lang)],
        "notes": [_w("note_fcr", lang), _w("note_frr", lang), _w("note_agents", lang)],
        "w": lambda key: _w(key, lang),
    }


def render_csv(kpis: Kpis, lang: str = "ja",
               targets: Mapping[str, float] | None = None) -> bytes:
    s = sections(kpis, lang, targets)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([s["title"]])
    w.writerow([_w("period", lang), *s["period"]])
    w.writerow([_w("line", lang), s["line"]])
    w.writerow([_w("queue", lang), s["queue"]])
    w.writerow([_w("generated", lang), s["generated"]])
    w.writerow([_w("targets_used", lang), s["targets"].split(": ", 1)[1]])
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
<title>{{ title }} {{ period_title }}</title>
<style>
body{font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans","Yu Gothic",Meiryo,sans-serif;
 margin:1.5em auto;max-width:70em;padding:0 1em;color:#222;font-size:14px}
h1{font-size:1.5em;margin:.2em 0}h1 small{font-size:.7em;color:#444;margin-left:.6em}
h2{font-size:1.15em;border-left:5px solid #2b5c8a;padding-left:.4em;margin-top:1.6em}
.meta{color:#444}.meta span{margin-right:1.2em}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #bbb;padding:.2em .6em;text-align:right;white-space:nowrap}
th{background:#eef2f6;font-weight:bold}
th:first-child,td:first-child{text-align:left}
tr:nth-child(even) td{background:#fafafa}
#summary td:nth-child(3),#summary td:nth-child(4){text-align:center}
.met{color:#0a6b2e;font-weight:bold}.missed{color:#b00020;font-weight:bold}
.nocalls{font-size:1.3em;padding:.5em 1em;border:2px solid #888;display:inline-block;background:#f6f6f6}
.chart svg{max-width:100%;height:auto}
.wide{overflow-x:auto}
@media print{body{max-width:none;font-size:11px}h2{break-after:avoid}.chart,table{break-inside:avoid}}
</style></head><body>
<h1>{{ title }}<small>{{ period_title }}</small></h1>
<p class="meta"><span>{{ w("period") }}: {{ period[0] }} – {{ period[1] }}</span>
<span>{{ w("line") }}: {{ line }}</span><span>{{ w("queue") }}: {{ queue }}</span>
<span>{{ w("generated") }}: {{ generated }}</span>
<span id="targets-used">{{ targets }}</span></p>
{% if empty %}<p class="nocalls" id="no-calls">{{ w("no_calls") }}: {{ w("no_calls_text") }}</p>{% endif %}
<table id="summary"><tr><th>{{ w("figure") }}</th><th>{{ w("value") }}</th>
<th>{{ w("target") }}</th><th>{{ w("judgement") }}</th></tr>
{% for r in summary %}<tr data-key="{{ r.key }}"><td>{{ r.label }}</td><td>{{ r.value or "—" }}</td>
<td>{{ r.target }}</td><td{% if r.met is not none %} class="{{ 'met' if r.met else 'missed' }}"{% endif %}>{{ r.judgement }}</td></tr>
{% endfor %}</table>
{% if charts %}<h2>{{ w("charts") }}</h2>
{% for caption, svg in charts %}<figure class="chart" aria-label="{{ caption }}">{{ svg }}</figure>
{% endfor %}{% endif %}
{% for title, head, rows in tables %}<h2>{{ title }}</h2>
<div class="wide"><table><tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table></div>{% endfor %}
<h2>{{ w("notes") }}</h2><ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
</body></html>
"""
_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_HTML)


def _inline_svg(data: bytes) -> Markup:
    """matplotlib's SVG without its XML prolog, to sit inside the page."""
    text = data.decode("utf-8")
    return Markup(text[text.index("<svg"):])


def render_html(kpis: Kpis, lang: str = "ja",
                targets: Mapping[str, float] | None = None, with_charts: bool = True) -> bytes:
    s = sections(kpis, lang, targets, percent=True)
    s["charts"] = [(caption, _inline_svg(svg))
                   for caption, svg in charts(kpis, lang, "svg", targets=targets)] \
        if with_charts else []
    return _template.render(**s).encode("utf-8")


__all__ = ["DEFAULT_TARGETS", "Table", "charts", "render_csv", "render_html", "report_tables",
           "summary_rows", "targets_text"]
