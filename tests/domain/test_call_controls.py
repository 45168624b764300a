"""Call controls without Asterisk: finding a call's channels, the allow-list compiled into
the dialplan, and who may control which call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from acd.domain.actor import Actor
from acd.domain.calls import Calls, CallState
from acd.domain.policies import TransferPolicy
from acd.services import call_controls
from acd.services.call_controls import (
    CallControlError,
    CallControls,
    parse_channels,
)
from agent_gateway.http import ERROR_STATUS

ROWS = [
    {"Channel": "PJSIP/carrier-00000000", "Uniqueid": "u1", "BridgeId": "b1",
     "Application": "Queue", "ApplicationData": "main"},
    {"Channel": "PJSIP/1001-00000001", "Uniqueid": "u2", "BridgeId": "b1",
     "Application": "AppQueue", "ApplicationData": "(Outgoing Line)"},
    {"Channel": "PJSIP/carrier-00000002", "Uniqueid": "u3", "BridgeId": "b1",
     "Application": "AppDial", "ApplicationData": "(Outgoing Line)"},
    {"Channel": "PJSIP/9001-00000003", "Uniqueid": "u4", "BridgeId": "",
     "Application": "ChanSpy", "ApplicationData": "PJSIP/1001-00000001,qE"},
    {"Channel": "PJSIP/1002-00000004", "Uniqueid": "u5", "BridgeId": "b2",
     "Application": "AppQueue", "ApplicationData": "(Outgoing Line)"},
]


def test_the_call_s_channels_are_found_by_the_caller_s_bridge():
    found = parse_channels("u1", "1001", ROWS)
    assert (found.caller, found.bridge, found.agent) == \
        ("PJSIP/carrier-00000000", "b1", "PJSIP/1001-00000001")
    assert found.others == ("PJSIP/carrier-00000002",)
    assert found.spies == (("PJSIP/9001-00000003", "PJSIP/1001-00000001,qE"),)
    assert parse_channels("gone", "1001", ROWS) is None
    assert parse_channels("u1", "1002", ROWS).agent is None  # 1002 is in another call


def test_the_allow_list_becomes_dialplan_extensions():
    policy = TransferPolicy(allow=("0570*", "0467XXXXXX", "0120"),
                            departments={"shimin": "0467-00-0001", "tax": "2101"})
    assert policy.dialplan_extensions() == ["_0570!", "_0467XXXXXX", "0120", "0467000001",
                                            "2101"]



def _controls(calls: Calls) -> CallControls:
    async def log_event(*_args):
        return None
    return CallControls(None, lambda: calls, lambda: TransferPolicy(allow=("0570*",)),
                        log_event, lambda: {"1001", "9001"})


def test_an_operator_controls_only_their_own_answered_call():
    call = CallState("u1", "0570000123", "main", "0312340000", 1.0, None, agent="1001",
                     answered_at=2.0)
    controls = _controls(Calls(active={"u1": call}))
    assert controls._call("u1", Actor("yamada", "agent", "1001")) is call
    assert controls._call("u1", Actor("sato", "supervisor")) is call
    with pytest.raises(CallControlError) as other:
        controls._call("u1", Actor("suzuki", "agent", "1002"))
    assert (ERROR_STATUS[other.value.error_id], other.value.error_id) == \
        (403, "NOT_YOUR_CALL")
    with pytest.raises(CallControlError) as unknown:
        controls._call("nope", Actor("sato", "supervisor"))
    assert unknown.value.error_id == "CALL_UNKNOWN"


async def test_a_number_outside_the_allow_list_is_refused_and_logged():
    logged = []

    async def log_event(kind, at, uniqueid, payload):
        logged.append((kind, uniqueid, payload))
    call = CallState("u1", "0570000123", "main", "0312340000", 1.0, None, agent="1001",
                     answered_at=2.0)
    controls = CallControls(None, lambda: Calls(active={"u1": call}),
                            lambda: TransferPolicy(allow=("0570*",)), log_event, set)
    with pytest.raises(CallControlError) as refused:
        await controls.transfer("u1", "0312345678", "blind", Actor("yamada", "agent", "1001"))
    assert (ERROR_STATUS[refused.value.error_id], refused.value.error_id) == \
        (403, "TRANSFER_NOT_ALLOWED")
    assert [(k, u, p["target"], p["by"], p["error_id"]) for k, u, p in logged] == \
        [("CallControlRefused", "u1", "0312345678", "yamada", "TRANSFER_NOT_ALLOWED")]


def test_every_call_control_error_id_has_an_http_status():
    """The gateway maps each error id the call controls raise to a status, once."""
    source = Path(call_controls.__file__).read_text(encoding="utf-8")
    raised = set(re.findall(r'CallControlError\(\s*"([A-Z_]+)"', source))
    assert raised and raised <= set(ERROR_STATUS)
