"""The satisfaction survey in the flows: a line's `survey:` (one to three questions, a
share, a thanks prompt), checked with file:line:column, compiled into a survey context
per language that the queue enters once the operator hung up."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.ivr.loader import FlowError, load_site
from tests.support.flows import write_flows

SITE = """\
lines:
  - did: "0467000930"
    name: 市民相談
    queue: desk
    recording: "off"
    survey: {survey}
queues:
  - {{name: desk}}
prompts:
  q1: {{text: {{ja: 満足度を押してください。}}}}
  thanks: {{text: {{ja: ありがとうございました。}}}}
"""


def load(tmp_path: Path, survey: str):
    write_flows(tmp_path / "flows", SITE.format(survey=survey))
    return load_site(tmp_path / "flows")


def test_a_survey_with_a_question_and_a_share_loads(tmp_path):
    [line] = load(tmp_path, "{questions: [q1], share: 0.25, thanks_prompt: thanks}").lines
    assert line.survey is not None
    assert (line.survey.questions, line.survey.share) == (["q1"], 0.25)


def test_an_unknown_question_prompt_is_an_error_at_its_place(tmp_path):
    with pytest.raises(FlowError) as caught:
        load(tmp_path, "{questions: [q1, nosuch], thanks_prompt: bye}")
    site = tmp_path / "flows" / "site.yaml"
    assert caught.value.problems == [
        f"{site}:6:30: unknown prompt 'nosuch' (known: q1, thanks)",
        f"{site}:6:54: unknown prompt 'bye' (known: q1, thanks)"]


@pytest.mark.parametrize("survey, expected", [
    ("{questions: []}", "List should have at least 1 item"),
    ("{questions: [q1, q1, q1, q1]}", "List should have at most 3 items"),
    ("{questions: [q1], share: 0}", "greater than 0"),
])
def test_a_survey_outside_its_bounds_is_refused(tmp_path, survey, expected):
    with pytest.raises(FlowError) as caught:
        load(tmp_path, survey)
    assert expected in " ".join(caught.value.problems)
    assert ":6:" in caught.value.problems[0]
