"""The erasure certificate: every item and the totals in the HTML, a CSV that Excel and the
csv module both read, and a digest anyone can recompute."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from acd.recordings.certificate import (
    CertificateHeader,
    CertificateItem,
    items_digest,
    parse_csv,
    render_csv,
    render_html,
    verify_csv,
)

JST = timezone(timedelta(hours=9))
BOM = b"\xef\xbb\xbf"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


ITEMS = [
    CertificateItem("1743465600.100", "代表 0570-000-123",
                    datetime(2025, 4, 1, 9, 0, 5, tzinfo=JST), sha("a"), "overwrite+unlink",
                    datetime(2026, 4, 2, 1, 30, tzinfo=UTC), "山田 太郎", 480_044),
    CertificateItem("1743490800.101", "子育て相談", datetime(2025, 4, 1, 7, 13, tzinfo=UTC),
                    sha("b").upper(), "crypto-shred", datetime(2026, 4, 2, 10, 31, tzinfo=JST),
                    "佐藤 花子", 960_044),
    CertificateItem("1743516000.102", "税務課 直通", datetime(2025, 4, 1, 23, 26, tzinfo=JST),
                    sha("c"), "crypto-shred,overwrite+unlink",
                    datetime(2026, 4, 2, 10, 32, tzinfo=JST), "=HYPERLINK(\"x\")", 16_044),
]
HEADER = CertificateHeader(
    organisation="〇〇市 市民生活部 市民相談コールセンター", period_start=date(2026, 4, 1),
    period_end=date(2026, 4, 30), issued_at=datetime(2026, 5, 7, 5, 0, tzinfo=UTC),
    issuer="市民相談課長 高橋 誠", reason="保存期間（1年）満了")


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.body_rows, self._in_tbody = 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.body_rows += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_tbody = False


def test_the_digest_follows_its_documented_definition():
    lines = [
        "1743465600.100\t代表 0570-000-123\t2025-04-01 09:00:05\t" + sha("a")
        + "\toverwrite+unlink\t2026-04-02 10:30:00\t山田 太郎\t480044\n",
        "1743490800.101\t子育て相談\t2025-04-01 16:13:00\t" + sha("b")
        + "\tcrypto-shred\t2026-04-02 10:31:00\t佐藤 花子\t960044\n",
        "1743516000.102\t税務課 直通\t2025-04-01 23:26:00\t" + sha("c")
        + "\tcrypto-shred,overwrite+unlink\t2026-04-02 10:32:00\t=HYPERLINK(\"x\")\t16044\n",
    ]
    assert items_digest(ITEMS) == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert items_digest([]) == hashlib.sha256(b"").hexdigest()
    swapped = [ITEMS[1], ITEMS[0], ITEMS[2]]
    assert items_digest(swapped) != items_digest(ITEMS)  # the order is part of the list


def test_html_in_japanese_has_every_item_and_the_totals():
    html = render_html(ITEMS, HEADER)
    for label in ("録音データ抹消証明書", "証明書番号", "発行日時", "発行者", "対象期間",
                  "件数", "合計容量", "方式別件数", "一覧ダイジェスト", "録音ID", "回線",
                  "通話日時", "抹消方式", "抹消日時", "実施者", "復元できない方法により抹消",
                  "日本標準時", "以上"):
        assert label in html, label
    for item in ITEMS:
        assert item.recording_id in html and item.line in html
        low = item.sha256.lower()
        assert f"<span>{low[:32]}</span><wbr><span>{low[32:]}</span>" in html
    assert "2025-04-01<br>09:00:05" in html and "2025-04-01<br>16:13:00" in html  # JST
    assert "2026-04-02<br>10:30:00" in html
    assert "3件" in html
    assert "1.5 MB（1,456,132バイト）" in html
    assert "暗号鍵抹消：1件" in html and "上書き消去：1件" in html
    assert "暗号鍵抹消 + 上書き消去：1件" in html
    assert items_digest(ITEMS) in html
    assert "令和8年（2026年）4月1日" in html and "令和8年（2026年）5月7日 14:00" in html
    assert f"MDG-20260507-{items_digest(ITEMS)[:8].upper()}" in html
    assert "=HYPERLINK(&#34;x&#34;)" in html  # escaped, as everything is
    assert "size: A4" in html
    parser = _Rows()
    parser.feed(html)
    assert parser.body_rows == len(ITEMS)


def test_html_in_english():
    html = render_html(ITEMS, HEADER, lang="en")
    for label in ("Certificate of Erasure of Call Recordings", "Certificate No.", "Issued by",
                  "Period covered", "Item list digest", "Recording ID", "Operator",
                  "1 April 2026 – 30 April 2026", "7 May 2026 14:00", "Key destroyed: 1"):
        assert label in html, label
    for japanese_label in ("録音データ抹消証明書", "実施者", "件数", "令和"):
        assert japanese_label not in html
    assert '<html lang="en">' in html
    assert all(item.recording_id in html for item in ITEMS)


def test_html_with_no_items_and_markup_in_values():
    header = CertificateHeader("<b>市</b>", date(2026, 4, 1), date(2026, 4, 30),
                               datetime(2026, 5, 7, tzinfo=UTC), "<script>alert(1)</script>",
                               certificate_no="No. 2026-001")
    html = render_html([], header)
    assert "該当なし" in html and "0件" in html and "No. 2026-001" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;市&lt;/b&gt;" in html


def test_csv_has_a_bom_parses_back_and_verifies():
    data = render_csv(ITEMS, HEADER)
    assert data.startswith(BOM)
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"), newline="")))
    assert rows[0] == ["録音データ抹消証明書"]
    meta = {row[0]: row[1:] for row in rows[1:rows.index([])]}
    assert meta["組織名"] == ["〇〇市 市民生活部 市民相談コールセンター"]
    assert meta["発行日時"] == ["2026-05-07 14:00:00"]
    assert meta["対象期間（開始）"] == ["2026-04-01"] and meta["対象期間（終了）"] == ["2026-04-30"]
    assert meta["件数"] == ["3"] and meta["合計容量（バイト）"] == ["1456132"]
    assert meta["件数（暗号鍵抹消）"] == ["1", "crypto-shred"]
    assert meta["一覧ダイジェスト（SHA-256）"] == [items_digest(ITEMS)]
    table = rows[rows.index([]) + 1:]
    assert table[0] == ["No.", "録音ID", "回線", "通話日時", "SHA-256（抹消前）", "抹消方式",
                        "方式コード", "抹消日時", "実施者", "容量（バイト）"]
    assert table[1] == ["1", "1743465600.100", "代表 0570-000-123", "2025-04-01 09:00:05",
                        sha("a"), "上書き消去", "overwrite+unlink", "2026-04-02 10:30:00",
                        "山田 太郎", "480044"]
    assert table[2][4] == sha("b")  # lowercased
    assert table[3][8] == "'=HYPERLINK(\"x\")"  # not a formula when Excel opens it
    assert len(table) == 1 + len(ITEMS)

    parsed = parse_csv(data)
    assert parsed.lang == "ja" and parsed.digest == items_digest(ITEMS)
    assert [i["recording_id"] for i in parsed.items] == [i.recording_id for i in ITEMS]
    assert parsed.items[2]["operator"] == "=HYPERLINK(\"x\")"
    assert verify_csv(data)


def test_a_changed_csv_no_longer_verifies():
    data = render_csv(ITEMS, HEADER)
    assert not verify_csv(data.replace("佐藤 花子".encode(), "佐藤 花".encode()))
    assert not verify_csv(data.replace(sha("c").encode(), sha("d").encode()))
    assert not verify_csv(data.replace(b"2025-04-01 23:26:00", b"2025-04-01 23:27:00"))


def test_english_csv_has_the_same_digest():
    data = render_csv(ITEMS, HEADER, lang="en")
    assert data.startswith(BOM)
    parsed = parse_csv(data)
    assert parsed.lang == "en"
    assert parsed.meta["Recordings"] == "3"
    assert parsed.digest == items_digest(ITEMS)
    assert verify_csv(data)


def test_invalid_input_is_refused():
    naive = CertificateItem("1", "l", datetime(2026, 1, 1), sha("a"), "crypto-shred",
                            datetime(2026, 1, 2, tzinfo=UTC), "o")
    with pytest.raises(ValueError, match="timezone-aware"):
        render_html([naive], HEADER)
    bad_hash = CertificateItem("1", "l", datetime(2026, 1, 1, tzinfo=UTC), "abc",
                               "crypto-shred", datetime(2026, 1, 2, tzinfo=UTC), "o")
    with pytest.raises(ValueError, match="64 hex"):
        render_csv([bad_hash], HEADER)
    with pytest.raises(ValueError, match="lang"):
        render_html(ITEMS, HEADER, lang="fr")
