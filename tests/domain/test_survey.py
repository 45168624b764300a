"""The satisfaction survey's events: the dialplan's MadoguchiSurvey translated, and the
call record's sum and count of the answers (a caller who hangs up is offered, unanswered)."""

import pytest

from acd.adapters.ami.events import AmiTranslationError, translate
from acd.domain.calls import Calls, SaveCallRecord, step
from acd.domain.events import (
    AgentAnswered,
    AgentCallEnded,
    ChannelHungUp,
    LineEntered,
    QueueJoined,
    SurveyAnswered,
    SurveyOffered,
)
from acd.reports.figures import Figures

T0 = 1_790_000_000.0


def user_event(**fields):
    return translate({"Event": "UserEvent", "UserEvent": "MadoguchiSurvey",
                      "Timestamp": "1790000001.5", "Uniqueid": "1.1", **fields})


def test_the_survey_events_are_translated():
    assert user_event(State="offered") == SurveyOffered(1790000001.5, "1.1")
    assert user_event(State="answered", Question="2", Answer="4") == \
        SurveyAnswered(1790000001.5, "1.1", 2, 4)
    with pytest.raises(AmiTranslationError, match="State"):
        user_event(State="maybe")
    with pytest.raises(AmiTranslationError, match="Answer"):
        user_event(State="answered", Question="1")


def answered_call(*survey):
    calls, records = Calls(), []
    for event in (LineEntered(T0, "1.1", "0467000930", "desk", "0312345678", None),
                  QueueJoined(T0 + 1, "1.1", "desk", 1),
                  AgentAnswered(T0 + 2, "1.1", "desk", "3901", 1, 1),
                  AgentCallEnded(T0 + 30, "1.1", "desk", "3901", 28, "agent"), *survey,
                  ChannelHungUp(T0 + 45, "1.1", "PJSIP/carrier-1", 16)):
        calls, produced = step(calls, event)
        records += [c.record for c in produced if isinstance(c, SaveCallRecord)]
    [record] = records
    return record


def test_the_answers_are_summed_on_the_record_and_a_hang_up_is_no_answer():
    both = answered_call(SurveyOffered(T0 + 30, "1.1"), SurveyAnswered(T0 + 34, "1.1", 1, 5),
                         SurveyAnswered(T0 + 38, "1.1", 2, 2))
    assert (both.survey_offered, both.survey_answer_sum, both.survey_answer_count) == \
        (True, 7, 2)
    assert both.talk_seconds == 28  # the survey is not talk
    gone = answered_call(SurveyOffered(T0 + 30, "1.1"))
    assert (gone.survey_offered, gone.survey_answer_sum, gone.survey_answer_count) == \
        (True, 0, 0)
    none = answered_call()
    assert not none.survey_offered


def test_an_answer_outside_one_to_five_is_not_counted():
    record = answered_call(SurveyOffered(T0 + 30, "1.1"), SurveyAnswered(T0 + 34, "1.1", 1, 9))
    assert record.survey_answer_count == 0


def test_satisfaction_is_the_mean_answer_scaled_to_one_hundred():
    figures = Figures(survey_offered=3, survey_responses=2, survey_answer_sum=8,
                      survey_answer_n=2)
    assert figures.satisfaction == 80.0
    assert figures.survey_response_rate == pytest.approx(100 * 2 / 3)
    assert Figures().satisfaction is None and Figures().survey_response_rate is None
