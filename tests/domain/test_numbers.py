"""The caller's number in one national form, whatever form the carrier sent."""

from __future__ import annotations

import pytest

from acd.domain.calls import Calls, step
from acd.domain.events import LineEntered
from acd.domain.numbers import national_number


@pytest.mark.parametrize(("presented", "national"), [
    ("+81312345678", "0312345678"),  # E.164
    ("81312345678", "0312345678"),  # E.164 without the plus
    ("0312345678", "0312345678"),  # national already
    ("+819012345678", "09012345678"),  # a mobile
    ("819012345678", "09012345678"),
    ("1860312345678", "0312345678"),  # 186: the caller chose to present the number
    ("1840312345678", ""),  # 184: withheld (非通知)
    ("", ""),  # anonymous: nothing arrives
    ("+14155550100", "+14155550100"),  # another country keeps its plus
    ("8100", "8100"),  # too short to be an E.164 Japanese number: as it came
    ("0570000123", "0570000123"),
])
def test_every_form_becomes_the_national_one(presented, national):
    assert national_number(presented) == national


def test_the_call_record_keeps_the_national_form():
    calls, _ = step(Calls(), LineEntered(at=1.0, uniqueid="u1", line="0570000123",
                                         queue="main", caller="+81312345678",
                                         recording_file=None))
    assert calls.active["u1"].caller == "0312345678"
