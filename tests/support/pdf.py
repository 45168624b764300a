"""PDFs read back as text with poppler's pdftotext, as a person's viewer shows them."""

from __future__ import annotations

import shutil
import subprocess


def pdf_text(data: bytes) -> str:
    assert shutil.which("pdftotext"), "poppler-utils (make setup) is needed"
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")
