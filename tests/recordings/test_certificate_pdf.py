"""The erasure certificate as PDF: read back with poppler (pdftotext, pdfinfo, pdftoppm)
as a person's viewer would, and issued by `acd recordings certificate --format pdf`."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from acd.domain.clock import JST
from acd.recordings.certificate import CertificateHeader, CertificateItem, items_digest
from acd.recordings.certificate_pdf import render_pdf
from acd.recordings.certificate_personal import PersonalDataItem
from tests.support.recordings import run

T0 = datetime(2026, 4, 1, 9, 30, tzinfo=JST)
HEADER = CertificateHeader("鎌倉市 市民相談課", date(2026, 4, 1), date(2026, 6, 30),
                           datetime(2026, 7, 1, 10, 0, tzinfo=JST), "課長 鎌倉 太郎",
                           reason="保存期間（90日）満了")


def items(n: int) -> list[CertificateItem]:
    return [CertificateItem(f"madoguchi-1775003400.{i}", "0570000123",
                            T0 + timedelta(minutes=7 * i),
                            hashlib.sha256(str(i).encode()).hexdigest(),
                            "overwrite+unlink" if i % 3 else "crypto-shred,overwrite+unlink",
                            datetime(2026, 7, 1, 3, 0, i % 60, tzinfo=JST),
                            "運用 花子", 160_044 + i) for i in range(1, n + 1)]


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def pages_of(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines()
                    if line.startswith("Pages:")))


def test_pdf_reads_back_with_every_item_page_numbers_and_the_digest(tmp_path: Path):
    listed = items(45)
    personal = [PersonalDataItem(f"madoguchi-1775003400.{i}", "0570000123", T0,
                                 "発信者番号、対応メモ ×1", "overwrite",
                                 datetime(2026, 7, 1, 3, 1, tzinfo=JST), "運用 花子")
                for i in range(1, 4)]
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(render_pdf(listed, HEADER, "ja", personal))
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = text_of(pdf)
    pages = pages_of(pdf)
    assert pages >= 2
    for needle in ("録音データ抹消証明書", "鎌倉市 市民相談課", "課長 鎌倉 太郎", "令和8年",
                   "保存期間（90日）満了", "45件", items_digest(listed), "以上",
                   "個人情報（通話記録・対応記録等）の抹消", "発信者番号、対応メモ",
                   f"ページ {pages} / {pages}"):
        assert needle in text, needle
    for item in listed:
        assert item.recording_id in text
        assert item.sha256[:32] in text and item.sha256[32:] in text  # in two lines
    # rendered, the first page is a page of text, not a blank (missing fonts show nothing)
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(pdf),
                    str(tmp_path / "page")], check=True, capture_output=True)
    image = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("L"))
    dark = float(np.mean(image < 128))
    assert 0.01 < dark < 0.3, dark


def test_empty_certificate_says_none(tmp_path: Path):
    pdf = tmp_path / "empty.pdf"
    pdf.write_bytes(render_pdf([], HEADER, "ja"))
    text = text_of(pdf)
    assert "該当なし" in text and "0件" in text and pages_of(pdf) == 1


def test_cli_issues_the_pdf_of_what_it_erased(site: Path, tmp_path: Path):
    assert run(["recordings", "purge", "--all", "--before", "2024-01-01", "--operator",
                "契約終了担当", "--reason", "契約終了"]) == 0
    out = tmp_path / "cert.pdf"
    today = date.today()
    assert run(["recordings", "certificate", "--from", f"{today - timedelta(days=1)}",
                "--to", f"{today + timedelta(days=1)}", "--format", "pdf",
                "--out", str(out), "--organisation", "札幌市"]) == 0
    text = text_of(out)
    assert "1700000000.1" in text and "契約終了担当" in text and "札幌市" in text
    assert "1775000000.2" not in text  # not erased, not certified
