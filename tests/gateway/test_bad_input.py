"""Bad input gets a 4xx with an error id, never a 500, and says what and where: the
cases found by hand against the stack, each kept as a regression (the fuzz run in
test_fuzz.py looks for new ones)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from acd.ivr.loader import FlowError, load_site
from tests.support.gateway import TOKEN, Gateway

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEEP = 50_000


@pytest.fixture
async def api(state_dir: Path):
    async with Gateway(f"sqlite+aiosqlite:///{state_dir}/db.sqlite", state_dir) as gateway, \
            aiohttp.ClientSession(base_url=gateway.base, headers=AUTH) as http:
        yield http


async def _answer(response: aiohttp.ClientResponse) -> tuple[int, str]:
    return response.status, (await response.json())["error_id"]


@pytest.mark.parametrize("path", ["/api/agents", "/api/agents/1001/away",
                                  "/api/agents/1001/disposition",
                                  "/api/escalations/1/assign"])
async def test_json_nested_too_deep_is_400_on_every_json_route(api, path):
    body = b"[" * DEEP + b"]" * DEEP
    async with api.post(path, data=body, headers={"Content-Type": "application/json"}) as r:
        assert await _answer(r) == (400, "BAD_JSON")


async def test_a_body_larger_than_the_limit_is_413_with_an_error_id(api):
    async with api.post("/api/agents", data=b"[" + b"1," * 2_000_000 + b"1]",
                        headers={"Content-Type": "application/json"}) as r:
        assert await _answer(r) == (413, "HTTP_413")


@pytest.mark.parametrize(("query", "error_id"), [
    ("range?from=0001-01-01&to=9999-12-31", "BAD_PERIOD"),
    ("range?from=2025-01-01&to=2026-12-31", "BAD_PERIOD"),  # longer than a year
    ("daily?date=9999-12-31", "BAD_PERIOD"),
    ("weekly?week=9999-W52", "BAD_PERIOD"),
    ("monthly?month=0001-01", "BAD_PERIOD"),
])
async def test_report_dates_outside_the_service_are_422(api, query, error_id):
    async with api.get(f"/api/reports/{query}") as r:
        assert await _answer(r) == (422, error_id)


async def test_a_range_of_a_whole_year_is_a_report(api):
    async with api.get("/api/reports/range?from=2026-01-01&to=2026-12-31&format=json") as r:
        assert r.status == 200 and (await r.json())["start"].startswith("2026-01-01")


@pytest.mark.parametrize("path", ["/api/escalations/99999999999999999999999/handled",
                                  "/api/escalations/0/handled",
                                  "/api/escalations/%EF%BC%91/handled"])  # a full-width 1
async def test_ids_out_of_range_are_404(api, path):
    async with api.post(path, json={}) as r:
        assert await _answer(r) == (404, "ESCALATION_UNKNOWN")


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=nan", "from=1e309"])
async def test_recording_search_times_outside_the_calendar_are_422(api, query):
    async with api.get(f"/api/recordings?{query}") as r:
        assert r.status in (422, 503)  # 503: this gateway has no recording store
        assert (await r.json())["error_id"] in ("INVALID_QUERY", "RECORDINGS_UNAVAILABLE")


async def test_the_api_token_on_a_session_only_route_is_403(api):
    async with api.get("/api/console/me") as r:
        assert await _answer(r) == (403, "SESSION_REQUIRED")


async def test_a_newline_in_a_path_is_an_answer_not_a_crash(api):
    async with api.post("/api/agents/%0A/login") as r:
        assert await _answer(r) == (404, "AGENT_UNKNOWN")


async def test_the_openapi_description_names_every_api_route_and_its_body(api):
    async with api.get("/api/openapi.json") as r:
        spec = await r.json()
    assert spec["openapi"].startswith("3.")
    operation = spec["paths"]["/api/agents/{agent}/disposition"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"] \
        == "#/components/schemas/DispositionBody"
    assert "outcome" in spec["components"]["schemas"]["DispositionBody"]["properties"]
    assert [p["name"] for p in operation["parameters"]] == ["agent"]
    assert "/api/reports/{kind}" in spec["paths"] and "/api/voicemails" in spec["paths"]


def _flows_with(tmp_path: Path, text: bytes) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "site.yaml").write_bytes(text)
    return flows


@pytest.mark.parametrize(("text", "where", "what"), [
    (b'lines:\n  - did: "0570\x00000123"\n', "site.yaml:2:15", "U+0000"),
    (b"lines:\n  - name: \x07bell\n", "site.yaml:2:11", "U+0007"),
    (b"lines:\n  - name: \xff\n", "site.yaml:2:11", "not UTF-8"),
])
def test_control_bytes_in_a_flow_file_are_named_with_file_line_column(tmp_path, text, where,
                                                                       what):
    flows = _flows_with(tmp_path, text)
    with pytest.raises(FlowError) as raised:
        load_site(flows)
    [problem] = raised.value.problems
    assert where in problem and what in problem, problem
    cli = subprocess.run([sys.executable, "-m", "acd.cli", "ivr", "validate", str(flows)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MADOGUCHI_STATE_DIR": str(tmp_path / "state")})
    assert cli.returncode == 1 and where in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr


async def test_a_disposition_category_outside_the_flows_categories_is_422(api):
    body = {"uniqueid": "u1", "outcome": "完了", "category": "住民票・戸籍"}  # not 住民票
    async with api.post("/api/agents/1001/disposition", json=body) as r:
        answer = await r.json()
    assert (r.status, answer["error_id"]) == (422, "CATEGORY_UNKNOWN")
    assert "住民票" in answer["details"]["categories"]
