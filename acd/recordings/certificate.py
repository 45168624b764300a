"""The erasure certificate (抹消証明書): print-ready HTML and CSV for Excel.

:func:`render_html` gives one self-contained HTML page sized for A4 portrait (Japanese
labels, or English with ``lang="en"``); :func:`render_csv` gives the same content as
CSV in UTF-8 with a BOM and CRLF line ends, so that Japanese Excel opens it as UTF-8.

Both carry the *item list digest*, which lets anyone check that the list of a printed or
exported certificate is the list that was issued (against the tombstones in the
database, or by recomputing it from the CSV, :func:`verify_csv`):

    SHA-256 (lowercase hex) of the UTF-8 bytes of one line per item, in the order listed,
    each line being the fields ``recording_id, line, call_time, sha256, method, erased_at,
    operator, size`` joined by a TAB and ended by a LF, where times are written
    ``YYYY-MM-DD HH:MM:SS`` in Japan Standard Time (UTC+9, as printed), ``sha256`` in
    lowercase hex, ``method`` is the method code (``overwrite+unlink``, ``crypto-shred``;
    several codes joined by ``,``), ``size`` is the byte count or empty, and a backslash,
    TAB, CR or LF inside a field is written ``\\\\``, ``\\t``, ``\\r``, ``\\n``.

The digest does not depend on the language. It covers the items, not the header: the
header's totals are derived from the items, and its other fields are what the issuer
signs or seals on paper.

CSV layout: the title row, then ``label,value`` rows of the header (certificate number,
organisation, issuer, issued at, period start and end, reason, item count, total size,
count per method, the digest, how it is computed, the time zone), an empty row, then the
item table with its column header row. A text cell that starts with ``= + - @ '``, TAB or
CR is written with a leading ``'`` so that Excel does not take it for a formula;
:func:`parse_csv` removes it again.

This module is longer than the house's 500 lines because the A4 HTML page's template
(about 150 lines) stays beside the view it renders.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import jinja2

from acd.domain.clock import JST

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CertificateItem:
    """One erased recording. Times must be timezone-aware."""

    recording_id: str
    line: str
    call_time: datetime
    sha256: str
    method: str
    erased_at: datetime
    operator: str
    size: int | None = None


@dataclass(frozen=True)
class CertificateHeader:
    organisation: str
    period_start: date
    period_end: date
    issued_at: datetime
    issuer: str
    certificate_no: str = ""  #: empty: ``MDG-<issue date>-<first 8 hex of the digest>``
    reason: str = ""  #: e.g. "保存期間（1年）満了"


METHODS: dict[str, dict[str, tuple[str, str]]] = {
    # code: {lang: (short label for the table, full description)}
    "overwrite+unlink": {
        "ja": ("上書き消去", "ファイルの全内容を同じ場所でゼロで上書きし、ディスクから読み戻して"
               "確認したうえで削除（ファイル名も無作為な名前に変更してから削除）"),
        "en": ("Overwritten", "Every byte overwritten in place with zeros, read back from "
               "the disk and checked, then the file renamed to a random name and deleted"),
    },
    "crypto-shred": {
        "ja": ("暗号鍵抹消", "録音は暗号化して保存されており、その暗号鍵を抹消したため、"
               "残存する複製を含め復号できない（暗号化消去）"),
        "en": ("Key destroyed", "The recording was stored encrypted and its encryption key "
               "was destroyed, so no remaining copy can be decrypted (crypto-shredding)"),
    },
}

LABELS = {
    "ja": {
        "title": "録音データ抹消証明書",
        "statement": "下記の通話録音データについて、復元できない方法により抹消したことを"
                     "証明します。",
        "certificate_no": "証明書番号",
        "issued_at": "発行日時",
        "organisation": "組織名",
        "issuer": "発行者",
        "seal": "印",
        "period": "対象期間",
        "period_start": "対象期間（開始）",
        "period_end": "対象期間（終了）",
        "reason": "抹消理由",
        "count": "件数",
        "total_size": "合計容量",
        "total_size_bytes": "合計容量（バイト）",
        "by_method": "方式別件数",
        "count_of": "件数（{}）",
        "digest": "一覧ダイジェスト（SHA-256）",
        "digest_how": "ダイジェストの計算方法",
        "digest_rule": "各行の「録音ID・回線・通話日時・SHA-256・方式コード・抹消日時・実施者・"
                       "容量（バイト）」をタブ区切り・LF改行で記載順に連結したUTF-8文字列の"
                       "SHA-256（時刻は日本標準時の YYYY-MM-DD HH:MM:SS）",
        "timezone": "時刻",
        "timezone_note": "時刻はすべて日本標準時（JST, UTC+9）",
        "methods": "抹消方式",
        "item_list": "抹消対象一覧",
        "none": "該当なし",
        "no": "No.",
        "recording_id": "録音ID",
        "line": "回線",
        "call_time": "通話日時",
        "sha256": "SHA-256（抹消前）",
        "method": "抹消方式",
        "method_code": "方式コード",
        "erased_at": "抹消日時",
        "operator": "実施者",
        "size": "容量（バイト）",
        "unit_items": "件",
        "colon": "：", "sep": "　／　", "range": " 〜 ", "open": "（", "close": "）",
        "page": "ページ",
        "end": "以上",
    },
    "en": {
        "title": "Certificate of Erasure of Call Recordings",
        "statement": "This is to certify that the call recordings listed below have been "
                     "erased by methods that prevent their restoration.",
        "certificate_no": "Certificate No.",
        "issued_at": "Issued at",
        "organisation": "Organisation",
        "issuer": "Issued by",
        "seal": "Seal",
        "period": "Period covered",
        "period_start": "Period start",
        "period_end": "Period end",
        "reason": "Reason for erasure",
        "count": "Recordings",
        "total_size": "Total size",
        "total_size_bytes": "Total size (bytes)",
        "by_method": "By method",
        "count_of": "Count ({})",
        "digest": "Item list digest (SHA-256)",
        "digest_how": "How the digest is computed",
        "digest_rule": "SHA-256 of the UTF-8 text made of one line per item, in the order "
                       "listed: recording ID, line, call time, SHA-256, method code, erased "
                       "at, operator, size in bytes, separated by TAB and ended by LF "
                       "(times in JST as YYYY-MM-DD HH:MM:SS)",
        "timezone": "Times",
        "timezone_note": "All times are Japan Standard Time (JST, UTC+9).",
        "methods": "Erasure methods",
        "item_list": "Erased recordings",
        "none": "None",
        "no": "No.",
        "recording_id": "Recording ID",
        "line": "Line",
        "call_time": "Call time",
        "sha256": "SHA-256 (before erasure)",
        "method": "Method",
        "method_code": "Method code",
        "erased_at": "Erased at",
        "operator": "Operator",
        "size": "Size (bytes)",
        "unit_items": "",
        "colon": ": ", "sep": " / ", "range": " – ", "open": " (", "close": ")",
        "page": "Page",
        "end": "End of list",
    },
}

_COLUMNS = ("no", "recording_id", "line", "call_time", "sha256", "method", "method_code",
            "erased_at", "operator", "size")


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware: {value!r}")
    return value


def _ts(value: datetime, what: str = "time") -> str:
    return _aware(value, what).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _escape_field(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
            .replace("\n", "\\n"))


def _check_item(item: CertificateItem) -> None:
    if not _SHA256.match(item.sha256):
        raise ValueError(f"item {item.recording_id}: sha256 must be 64 hex digits")
    if item.size is not None and item.size < 0:
        raise ValueError(f"item {item.recording_id}: negative size")


def _canonical_fields(item: CertificateItem) -> list[str]:
    return [item.recording_id, item.line, _ts(item.call_time, "call_time"),
            item.sha256.lower(), item.method, _ts(item.erased_at, "erased_at"),
            item.operator, "" if item.size is None else str(item.size)]


def _digest_of_rows(rows: list[list[str]]) -> str:
    text = "".join("\t".join(_escape_field(f) for f in row) + "\n" for row in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def items_digest(items: list[CertificateItem]) -> str:
    """The item list digest (see the module docstring for its exact definition)."""
    for item in items:
        _check_item(item)
    return _digest_of_rows([_canonical_fields(item) for item in items])


def _method_labels(code: str, lang: str) -> list[tuple[str, str, str]]:
    """``[(code, short, full)]`` for a method code, several codes joined by ``,``."""
    out = []
    for part in (p.strip() for p in code.split(",")):
        short, full = METHODS.get(part, {}).get(lang, (part, part))
        out.append((part, short, full))
    return out


def _era(day: date) -> str:
    if day >= date(2019, 5, 1):
        name, first = "令和", 2019
    elif day >= date(1989, 1, 8):
        name, first = "平成", 1989
    else:
        return ""
    year = day.year - first + 1
    return f"{name}{'元' if year == 1 else year}年"


def _long_date(day: date, lang: str) -> str:
    if lang == "en":
        return day.strftime("%d %B %Y").lstrip("0")
    era = _era(day)
    return f"{era}（{day.year}年）{day.month}月{day.day}日" if era else \
        f"{day.year}年{day.month}月{day.day}日"


def _long_datetime(value: datetime, lang: str) -> str:
    local = _aware(value, "issued_at").astimezone(JST)
    return f"{_long_date(local.date(), lang)} {local:%H:%M}"


def _size_text(size: int, lang: str) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    value, unit = float(size), 0
    while value >= 1000 and unit < len(units) - 1:
        value /= 1000
        unit += 1
    human = f"{value:.1f} {units[unit]}" if unit else f"{size} B"
    sep = "バイト" if lang == "ja" else " bytes"
    return f"{human}（{size:,}{sep}）" if lang == "ja" else f"{human} ({size:,}{sep})"


@dataclass(frozen=True)
class _View:
    labels: dict[str, str]
    header: CertificateHeader
    certificate_no: str
    digest: str
    count: int
    total_size: int | None
    by_method: list[tuple[str, str, int]]  # code, short label, count
    methods_used: list[tuple[str, str, str]]  # code, short, full
    rows: list[dict[str, object]]


def _view(items: list[CertificateItem], header: CertificateHeader, lang: str) -> _View:
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {sorted(LABELS)}, not {lang!r}")
    _aware(header.issued_at, "issued_at")
    digest = items_digest(items)
    issued = header.issued_at.astimezone(JST)
    number = header.certificate_no or f"MDG-{issued:%Y%m%d}-{digest[:8].upper()}"
    counts: Counter[str] = Counter(item.method for item in items)
    by_method = [(code, " + ".join(s for _, s, _ in _method_labels(code, lang)), n)
                 for code, n in sorted(counts.items())]
    used: dict[str, tuple[str, str, str]] = {}
    for code in counts:
        for part in _method_labels(code, lang):
            used.setdefault(part[0], part)
    sizes = [item.size for item in items]
    total = sum(s for s in sizes if s is not None) if items and None not in sizes else None
    rows = []
    for number_in_list, item in enumerate(items, start=1):
        call, erased = _ts(item.call_time), _ts(item.erased_at)
        rows.append({
            "no": number_in_list, "item": item, "sha256": item.sha256.lower(),
            "call_date": call[:10], "call_clock": call[11:],
            "erased_date": erased[:10], "erased_clock": erased[11:],
            "method": " + ".join(s for _, s, _ in _method_labels(item.method, lang)),
            "method_parts": [s for _, s, _ in _method_labels(item.method, lang)],
        })
    return _View(LABELS[lang], header, number, digest, len(items), total, by_method,
                 sorted(used.values()), rows)


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)

_TEMPLATE = _ENV.from_string("""\
<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<title>{{ L.title }} {{ v.certificate_no }}</title>
<style>
@page {
  size: A4 portrait;
  margin: 14mm 13mm 16mm 13mm;
  @bottom-center {
    content: "{{ v.certificate_no }}　{{ L.page }} " counter(page) " / " counter(pages);
    font-size: 8pt; color: #444;
    font-family: "BIZ UDPGothic", "Yu Gothic", "Meiryo", "Noto Sans CJK JP", sans-serif;
  }
}
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body {
  margin: 0; color: #000; background: #fff;
  font-family: "BIZ UDPGothic", "Yu Gothic", "YuGothic", "Meiryo", "Hiragino Sans",
    "Noto Sans CJK JP", "IPAexGothic", sans-serif;
  font-size: 10pt; line-height: 1.45;
}
.sheet { width: 184mm; margin: 0 auto; }
@media screen {
  body { background: #e8e8e8; padding: 8mm 0; }
  .sheet { background: #fff; padding: 14mm 13mm; width: 210mm; min-height: 297mm;
           box-shadow: 0 0 3mm rgba(0,0,0,.25); }
}
.top { display: flex; justify-content: space-between; font-size: 9pt; }
.top dl { margin: 0; display: grid; grid-template-columns: auto auto; column-gap: 3mm; }
.top dt { text-align: right; color: #333; }
.top dd { margin: 0; }
h1 { text-align: center; font-size: 20pt; letter-spacing: {{ title_spacing }};
     margin: 9mm 0 7mm; font-weight: bold; }
.issuer { display: flex; justify-content: flex-end; align-items: center; gap: 4mm;
          margin-bottom: 6mm; }
.issuer .names { text-align: left; font-size: 11pt; }
.issuer .names div { line-height: 1.6; }
.seal { width: 18mm; height: 18mm; border: 0.3mm solid #999; border-radius: 50%;
        display: flex; align-items: center; justify-content: center; color: #999;
        font-size: 9pt; }
.statement { font-size: 11pt; margin: 0 0 5mm; }
h2 { font-size: 11pt; margin: 6mm 0 2mm; border-left: 1.2mm solid #333; padding-left: 2mm; }
table.summary { border-collapse: collapse; width: 100%; }
table.summary th, table.summary td { border: 0.25mm solid #555; padding: 1.4mm 2.5mm;
  vertical-align: top; text-align: left; }
table.summary th { width: 42mm; background: #f0f0f0; font-weight: normal; }
.digest { font-family: "DejaVu Sans Mono", "Consolas", "Noto Sans Mono CJK JP", monospace;
          font-size: 9pt; letter-spacing: 0.02em; word-break: break-all; }
.rule { font-size: 7.5pt; color: #333; margin-top: 1mm; }
table.items { border-collapse: collapse; width: 100%; font-size: 7.6pt; line-height: 1.3;
              table-layout: fixed; }
table.items th, table.items td { border: 0.2mm solid #666; padding: 1mm 1.2mm;
  vertical-align: top; overflow-wrap: anywhere; }
table.items thead th { background: #f0f0f0; font-weight: bold; text-align: center; }
table.items thead { display: table-header-group; }
table.items tr { break-inside: avoid; page-break-inside: avoid; }
table.items td.num { text-align: right; }
table.items .hash { font-family: "DejaVu Sans Mono", "Consolas", "Noto Sans Mono CJK JP",
  monospace; font-size: 6.6pt; letter-spacing: 0; }
table.items .hash span { white-space: nowrap; }
table.items tr:nth-child(even) td { background: #fafafa; }
.none { text-align: center; color: #555; }
.end { text-align: right; margin-top: 2mm; font-size: 9pt; }
dl.methods { margin: 0; font-size: 8.5pt; }
dl.methods dt { font-weight: bold; margin-top: 1mm; }
dl.methods dd { margin: 0 0 0 4mm; }
.note { font-size: 8.5pt; color: #333; margin-top: 3mm; }
</style>
</head>
<body>
<div class="sheet">
  <div class="top">
    <div></div>
    <dl>
      <dt>{{ L.certificate_no }}</dt><dd>{{ v.certificate_no }}</dd>
      <dt>{{ L.issued_at }}</dt><dd>{{ issued }}</dd>
    </dl>
  </div>
  <h1>{{ L.title }}</h1>
  <div class="issuer">
    <div class="names">
      <div>{{ h.organisation }}</div>
      <div>{{ L.issuer }}{{ L.colon }}{{ h.issuer }}</div>
    </div>
    <div class="seal">{{ L.seal }}</div>
  </div>
  <p class="statement">{{ L.statement }}</p>

  <table class="summary">
    <tr><th>{{ L.period }}</th><td>{{ period_start }}{{ L.range }}{{ period_end }}</td></tr>
    {% if h.reason %}<tr><th>{{ L.reason }}</th><td>{{ h.reason }}</td></tr>{% endif %}
    <tr><th>{{ L.count }}</th><td>{{ "{:,}".format(v.count) }}{{ L.unit_items }}</td></tr>
    {% if v.total_size is not none %}
    <tr><th>{{ L.total_size }}</th><td>{{ total_size }}</td></tr>
    {% endif %}
    {% if v.by_method %}
    <tr><th>{{ L.by_method }}</th><td>
      {{ by_method }}
    </td></tr>
    {% endif %}
    <tr><th>{{ L.digest }}</th><td><div class="digest">{{ v.digest }}</div>
      <div class="rule">{{ L.digest_rule }}</div></td></tr>
    <tr><th>{{ L.timezone }}</th><td>{{ L.timezone_note }}</td></tr>
  </table>

  {% if v.methods_used %}
  <h2>{{ L.methods }}</h2>
  <dl class="methods">
    {% for code, short, full in v.methods_used %}
    <dt>{{ short }}{{ L.open }}{{ code }}{{ L.close }}</dt><dd>{{ full }}</dd>
    {% endfor %}
  </dl>
  {% endif %}
  <h2>{{ L.item_list }}</h2>
  <table class="items">
    <colgroup>
      <col style="width:8mm"><col style="width:26mm"><col style="width:28mm">
      <col style="width:17mm"><col style="width:48mm"><col style="width:18mm">
      <col style="width:17mm"><col style="width:auto">
    </colgroup>
    <thead><tr>
      <th>{{ L.no }}</th><th>{{ L.recording_id }}</th><th>{{ L.line }}</th>
      <th>{{ L.call_time }}</th><th>{{ L.sha256 }}</th><th>{{ L.method }}</th>
      <th>{{ L.erased_at }}</th><th>{{ L.operator }}</th>
    </tr></thead>
    <tbody>
    {% for r in v.rows %}
      <tr>
        <td class="num">{{ r.no }}</td>
        <td>{{ r.item.recording_id }}</td>
        <td>{{ r.item.line }}</td>
        <td>{{ r.call_date }}<br>{{ r.call_clock }}</td>
        <td class="hash"><span>{{ r.sha256[:32] }}</span><wbr><span>{{ r.sha256[32:] }}</span></td>
        <td>
          {% for part in r.method_parts %}{{ part }}{% if not loop.last %}<br>{% endif %}
          {% endfor %}
        </td>
        <td>{{ r.erased_date }}<br>{{ r.erased_clock }}</td>
        <td>{{ r.item.operator }}</td>
      </tr>
    {% else %}
      <tr><td colspan="8" class="none">{{ L.none }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  <div class="end">{{ L.end }}</div>

</div>
</body>
</html>
""")


def render_html(items: list[CertificateItem], header: CertificateHeader,
                lang: str = "ja") -> str:
    """The certificate as one self-contained, print-ready (A4 portrait) HTML page."""
    v = _view(items, header, lang)
    return _TEMPLATE.render(
        lang=lang, L=v.labels, v=v, h=header,
        issued=_long_datetime(header.issued_at, lang),
        period_start=_long_date(header.period_start, lang),
        period_end=_long_date(header.period_end, lang),
        total_size=None if v.total_size is None else _size_text(v.total_size, lang),
        title_spacing="0.3em" if lang == "ja" else "0.02em",
        by_method=v.labels["sep"].join(
            f"{short}{v.labels['colon']}{n:,}{v.labels['unit_items']}"
            for _, short, n in v.by_method),
    )


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START + ("'",)) else value


def _uncell(value: str) -> str:
    quoted = value.startswith("'") and value[1:].startswith(_FORMULA_START + ("'",))
    return value[1:] if quoted else value


def render_csv(items: list[CertificateItem], header: CertificateHeader,
               lang: str = "ja") -> bytes:
    """The certificate as CSV: UTF-8 with BOM, CRLF; header rows, blank row, item table."""
    v = _view(items, header, lang)
    L = v.labels
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([L["title"]])
    w.writerow([L["certificate_no"], _cell(v.certificate_no)])
    w.writerow([L["organisation"], _cell(header.organisation)])
    w.writerow([L["issuer"], _cell(header.issuer)])
    w.writerow([L["issued_at"], _ts(header.issued_at, "issued_at")])
    w.writerow([L["period_start"], header.period_start.isoformat()])
    w.writerow([L["period_end"], header.period_end.isoformat()])
    w.writerow([L["reason"], _cell(header.reason)])
    w.writerow([L["count"], v.count])
    w.writerow([L["total_size_bytes"], "" if v.total_size is None else v.total_size])
    for code, short, n in v.by_method:
        w.writerow([L["count_of"].format(short), n, code])
    w.writerow([L["digest"], v.digest])
    w.writerow([L["digest_how"], L["digest_rule"]])
    w.writerow([L["timezone"], L["timezone_note"]])
    w.writerow([])
    w.writerow([L[c] for c in _COLUMNS])
    for r in v.rows:
        item: CertificateItem = r["item"]  # type: ignore[assignment]
        w.writerow([r["no"], _cell(item.recording_id), _cell(item.line), _ts(item.call_time),
                    r["sha256"], r["method"], item.method, _ts(item.erased_at),
                    _cell(item.operator), "" if item.size is None else item.size])
    return (_BOM + out.getvalue()).encode("utf-8")


@dataclass(frozen=True)
class ParsedCsv:
    """A certificate CSV read back: header rows as ``label -> value``, item rows as dicts
    keyed by the language-independent column names ``no, recording_id, line, call_time,
    sha256, method, method_code, erased_at, operator, size``."""

    lang: str
    meta: dict[str, str]
    items: list[dict[str, str]]
    digest: str


def parse_csv(data: bytes) -> ParsedCsv:
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    lang = next((k for k, labels in LABELS.items() if rows and rows[0][:1] == [labels["title"]]),
                None)
    if lang is None:
        raise ValueError("not an erasure certificate CSV (unknown title row)")
    L = LABELS[lang]
    blank = rows.index([])
    meta = {row[0]: _uncell(row[1]) for row in rows[1:blank] if len(row) >= 2}
    columns = rows[blank + 1]
    if columns != [L[c] for c in _COLUMNS]:
        raise ValueError("unexpected item table columns")
    items = [{c: _uncell(value) for c, value in zip(_COLUMNS, row, strict=True)}
             for row in rows[blank + 2:] if row]
    return ParsedCsv(lang, meta, items, meta.get(L["digest"], ""))


def verify_csv(data: bytes) -> bool:
    """Recompute the item list digest from a certificate CSV and compare it."""
    parsed = parse_csv(data)
    rows = [[i["recording_id"], i["line"], i["call_time"], i["sha256"], i["method_code"],
             i["erased_at"], i["operator"], i["size"]] for i in parsed.items]
    return _digest_of_rows(rows) == parsed.digest
