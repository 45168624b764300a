"""The HTTP API of the recording store: search, ranged playback, the access log, the
erasure certificate; on-demand recording of a call in progress.

Who may do what (the request's principal, :mod:`agent_gateway.auth.principal`):

* search, details, playback and download (and a signed playback URL): supervisors and
  admins; agents too when the setting ``recording_agents_play_own`` is on, and then only
  the recordings of their own calls (a search is narrowed to them);
* the access log and the erasure certificate: admins;
* on-demand recording (``POST /api/calls/{uniqueid}/recording``,
  :mod:`acd.recordings.on_demand`): the agent on the call, supervisors, admins;
* the holder of the API token (the ``service`` principal: the CLI, scripts) may do all of
  it; the acting person is then named by the ``X-Madoguchi-User`` header (``api`` when
  absent). For a signed-in user it is the user's own name, whatever the header says.

Every search, playback, download and certificate is written to the access log with who
and from where; a playback or search that is refused is answered ``403`` and written too
(``result`` ``refused``).

Playback (``GET /api/recordings/{uniqueid}/audio``) answers HTTP ranges (RFC 9110):
``Range: bytes=a-b``, ``a-`` and ``-n`` get ``206 Partial Content`` with ``Content-Range``,
no ``Range`` (or several ranges, or an ``If-Range`` that no longer matches) the whole
recording with ``200``, an unsatisfiable or malformed range ``416`` with
``Content-Range: bytes */<size>``. Only the chunks a range touches are decrypted, as the
response is written, so a browser's ``<audio>`` element can seek at once.

A browser's ``<audio src=...>`` cannot send the API token, so
``POST /api/recordings/{uniqueid}/playback-url`` (token required) returns a short-lived
signed URL ``/recordings/{uniqueid}/audio?who=&exp=&sig=`` that plays the same way without
the token: the signature (HMAC-SHA256 under a key derived from the API token) binds the
recording, the user and the expiry.
"""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any, Literal
from urllib.parse import quote, urlencode

import structlog
from aiohttp import web

from acd.adapters.files import content_type_for
from acd.domain.actor import Actor
from acd.domain.clock import parse_when
from acd.recordings.archive import playback_signature, playback_signature_valid
from acd.recordings.models import MAX_PAGE, Playback, RecordingError, public_row
from acd.recordings.store import RecordingStore
from agent_gateway.auth.principal import principal
from agent_gateway.http import ApiError, Body, accepts, parse_body
from agent_gateway.keys import API_TOKEN, ON_DEMAND, RECORDING_STORE

log = structlog.get_logger(__name__)

USER_HEADER = "X-Madoguchi-User"
MAX_OFFSET = 10**9
DEFAULT_USER = "api"
PLAYBACK_URL_SECONDS = 15 * 60
STREAM_BATCH = 256 * 1024
_USER = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")
_RANGE = re.compile(r"^(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range ``(start, end)`` (half-open) that a ``Range`` header asks of a
    ``size``-byte body; ``None`` for the whole body (no header, another unit, or several
    ranges, which this server answers with the whole body as RFC 9110 allows).

    Raises :class:`RangeNotSatisfiable` for a malformed or unsatisfiable range.
    """
    if header is None:
        return None
    header = header.strip()
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.match(spec.strip())
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if first == "":  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - n), size
    start = int(first)
    end = size if last == "" else int(last) + 1
    if last != "" and end <= start:
        raise RangeNotSatisfiable(header)
    if start >= size:
        raise RangeNotSatisfiable(header)
    return start, min(end, size)


def _who(request: web.Request) -> str:
    """The acting person: a signed-in user's name, or for the API token the
    ``X-Madoguchi-User`` header (``api`` when absent)."""
    found = principal(request)
    if not found.is_service:
        return found.user
    who = request.headers.get(USER_HEADER, "").strip() or DEFAULT_USER
    if not _USER.match(who):
        raise ApiError(400, "BAD_USER", f"the {USER_HEADER} header must be 1-80 printable "
                       "characters")
    return who


def _may_listen(request: web.Request, store: RecordingStore) -> Actor:
    """The principal if it may search and play recordings at all (agents: only when the
    setting allows, and then only their own calls: see :func:`_own_only`)."""
    found = principal(request)
    if found.is_service or found.role in ("supervisor", "admin"):
        return found
    if found.role == "agent" and store.agents_play_own and found.agent_id:
        return found
    raise ApiError(403, "RECORDING_FORBIDDEN", "playing recordings needs the role "
                   "supervisor or admin" + (" (or an agent, for their own calls)"
                                            if store.agents_play_own else ""),
                   {"role": found.role})


def _own_only(who: Actor) -> str | None:
    """The agent id a principal's recordings are limited to (``None``: all)."""
    return who.agent_id if who.role == "agent" else None


async def _refused(request: web.Request, store: RecordingStore, action: str,
                   uniqueid: str | None, error: ApiError) -> ApiError:
    """Write a refused access to the access log; the error to raise."""
    await store.log_access(_who(request), action, uniqueid, request.remote,
                           f"{error.error_id}: {error.message}", result="refused")
    log.warning("recording.access_refused", uniqueid=uniqueid, action=action,
                who=_who(request), error_id=error.error_id)
    return error


async def _check_listener(request: web.Request, store: RecordingStore, action: str,
                          uniqueid: str | None) -> Actor:
    """:func:`_may_listen`, and for an agent the recording must be of their call; a
    refusal is logged (403). An unknown recording is left to the caller (404)."""
    try:
        who = _may_listen(request, store)
        agent = _own_only(who)
        if agent is not None and uniqueid is not None:
            row = await store.get(uniqueid)
            if row is not None and row["agent"] != agent:
                raise ApiError(403, "RECORDING_FORBIDDEN", "an agent may play only the "
                               "recordings of their own calls", {"agent": agent})
    except ApiError as exc:
        raise await _refused(request, store, action, uniqueid, exc) from None
    return who


def _store(request: web.Request) -> RecordingStore:
    try:
        return request.app[RECORDING_STORE]
    except KeyError:
        raise ApiError(503, "RECORDINGS_UNAVAILABLE", "the recording store is not "
                       "configured") from None


def _query(request: web.Request, name: str, kind: type | Literal["when"] = str, *,
           end: bool = False, default: Any = None) -> Any:
    raw = request.query.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        if kind == "when":
            return parse_when(raw, end=end)
        if kind is date:
            return date.fromisoformat(raw.strip())
        return kind(raw.strip())
    except ValueError as exc:
        raise ApiError(422, "INVALID_QUERY", f"query parameter {name!r}: {exc}",
                       [{"field": name, "problem": str(exc)}]) from None


def _page(request: web.Request, default: int) -> tuple[int, int]:
    limit = _query(request, "limit", int, default=default)
    offset = _query(request, "offset", int, default=0)
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
        raise ApiError(422, "INVALID_QUERY",
                       f"limit must be 1..{MAX_PAGE} and offset 0..{MAX_OFFSET}")
    return limit, offset


def _audio_path(uniqueid: str) -> str:
    return f"/api/recordings/{quote(uniqueid, safe='')}/audio"


# ------------------------------------------------------------------ search and log

async def search_recordings(request: web.Request) -> web.Response:
    store, who = _store(request), _who(request)
    listener = await _check_listener(request, store, "search", None)
    own = _own_only(listener)
    if own is not None and _query(request, "agent") not in (None, own):
        raise await _refused(request, store, "search", None, ApiError(
            403, "RECORDING_FORBIDDEN", "an agent may search only their own calls"))
    limit, offset = _page(request, 50)
    status = _query(request, "status", default="sealed")
    if status not in ("sealed", "erased", "failed", "all"):
        raise ApiError(422, "INVALID_QUERY", "status must be sealed, erased, failed or all")
    kind = _query(request, "kind")
    if kind not in (None, "call", "voicemail"):
        raise ApiError(422, "INVALID_QUERY", "kind must be call or voicemail")
    page = await store.search(
        since=_query(request, "from", "when"), until=_query(request, "to", "when", end=True),
        caller=_query(request, "caller"), line=_query(request, "line"),
        queue=_query(request, "queue"), agent=own or _query(request, "agent"),
        min_seconds=_query(request, "min_seconds", float), outcome=_query(request, "outcome"),
        category=_query(request, "category"), kind=kind,
        call_uniqueid=_query(request, "call_uniqueid"),
        status=None if status == "all" else status, limit=limit, offset=offset,
        who=who, remote=request.remote)
    items = []
    for row in page.items:
        item = public_row(row)
        if row["status"] == "sealed":
            item["audio_url"] = _audio_path(row["uniqueid"])
        items.append(item)
    return web.json_response({"total": page.total, "limit": page.limit,
                              "offset": page.offset, "items": items})


async def get_access_log(request: web.Request) -> web.Response:
    store = _store(request)
    limit, offset = _page(request, 100)
    action = _query(request, "action")
    result = _query(request, "result")
    if result not in (None, "granted", "refused"):
        raise ApiError(422, "INVALID_QUERY", "result must be granted or refused")
    entries = await store.access_log(
        since=_query(request, "from", "when"), until=_query(request, "to", "when", end=True),
        who=_query(request, "who"), action=action, uniqueid=_query(request, "uniqueid"),
        result=result, limit=limit, offset=offset)
    return web.json_response(entries)


async def get_certificate(request: web.Request) -> web.Response:
    store, who = _store(request), _who(request)
    start, end = _query(request, "from", date), _query(request, "to", date)
    if start is None or end is None:
        raise ApiError(422, "INVALID_QUERY", "from and to (YYYY-MM-DD, JST) are required")
    fmt = _query(request, "format", default="html")
    lang = _query(request, "lang", default="ja")
    if fmt not in ("html", "csv", "pdf") or lang not in ("ja", "en"):
        raise ApiError(422, "INVALID_QUERY", "format must be html, csv or pdf, lang ja or en")
    try:
        body = await store.certificate(
            start, end, lang, fmt, organisation=_query(request, "organisation", default=""),
            issuer=_query(request, "issuer", default=""),
            reason=_query(request, "reason", default=""), who=who, remote=request.remote)
    except ValueError as exc:
        raise ApiError(422, "INVALID_QUERY", str(exc)) from None
    name = f"erasure-certificate-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    content_type = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
                    "pdf": "application/pdf"}[fmt]
    return web.Response(body=body, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'{"attachment" if fmt == "csv" else "inline"}; '
                               f'filename="{name}"',
        "Cache-Control": "no-store"})


async def get_recording(request: web.Request) -> web.Response:
    store = _store(request)
    await _check_listener(request, store, "search", request.match_info["uniqueid"])
    row = await store.get(request.match_info["uniqueid"])
    if row is None:
        raise RecordingError("RECORDING_UNKNOWN", "no such recording")
    item = public_row(row)
    if row["status"] == "sealed":
        item["audio_url"] = _audio_path(row["uniqueid"])
    return web.json_response(item)


# ------------------------------------------------------------------ playback

def _headers(size: int, content_type: str, etag: str, uniqueid: str,
             download: bool) -> dict[str, str]:
    suffix = ".wav" if content_type == "audio/wav" else ""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", uniqueid) + suffix
    return {"Content-Type": content_type, "Accept-Ranges": "bytes", "ETag": etag,
            "Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'{"attachment" if download else "inline"}; '
                                   f'filename="{name}"'}


async def _play(request: web.Request, uniqueid: str, who: str) -> web.StreamResponse:
    store = _store(request)
    download = request.query.get("download") in ("1", "true")
    if request.method == "HEAD":  # sizes only: no audio leaves, nothing to log
        row = await store.get(uniqueid)
        if row is None or row["status"] != "sealed" or row["plain_size"] is None:
            raise RecordingError("RECORDING_UNKNOWN", "no playable recording")
        etag = f'"{row["sha256"][:32]}"'
        headers = _headers(row["plain_size"], content_type_for(row["source_path"] or ""),
                           etag, uniqueid, download)
        headers["Content-Length"] = str(row["plain_size"])
        return web.Response(status=200, headers=headers)
    range_header = request.headers.get("Range")
    playback: Playback = await store.open_for_playback(
        uniqueid, who, request.remote, action="download" if download else "play",
        detail=f"Range: {range_header}" if range_header else "whole")
    try:
        size = playback.size
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range.strip() != playback.etag:
            range_header = None  # changed since the client's copy: send it all
        try:
            wanted = parse_range(range_header, size)
        except RangeNotSatisfiable:
            return web.Response(status=416, headers={
                "Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes",
                "Cache-Control": "no-store, private"})
        start, end = wanted if wanted is not None else (0, size)
        headers = _headers(size, playback.content_type, playback.etag, uniqueid, download)
        response = web.StreamResponse(status=206 if wanted is not None else 200,
                                      headers=headers)
        if wanted is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        response.content_length = end - start
        pieces = playback.reader.aiter_range(start, end, batch=STREAM_BATCH)
        # read (and authenticate) the first piece before the status line goes out, so
        # that a damaged file is an error response rather than a cut-off body
        try:
            first = await anext(pieces) if end > start else b""
        except Exception as exc:
            log.error("recording.unreadable", alarm=True, uniqueid=uniqueid,
                      error=f"{type(exc).__name__}: {exc}")
            raise RecordingError("RECORDING_UNREADABLE", "the recording cannot be decrypted: "
                         f"{type(exc).__name__}") from None
        await response.prepare(request)
        if first:
            await response.write(first)
            async for piece in pieces:
                await response.write(piece)
        await response.write_eof()
        return response
    finally:
        playback.close()


async def audio(request: web.Request) -> web.StreamResponse:
    uniqueid = request.match_info["uniqueid"]
    if request.method != "HEAD":
        download = request.query.get("download") in ("1", "true")
        await _check_listener(request, _store(request), "download" if download else "play",
                              uniqueid)
    else:
        _may_listen(request, _store(request))
    return await _play(request, uniqueid, _who(request))


async def playback_url(request: web.Request) -> web.Response:
    """A signed URL for ``<audio src>``: plays without the token until it expires."""
    store, who = _store(request), _who(request)
    uniqueid = request.match_info["uniqueid"]
    await _check_listener(request, store, "play", uniqueid)
    row = await store.get(uniqueid)
    if row is None:
        raise RecordingError("RECORDING_UNKNOWN", "no such recording")
    if row["status"] != "sealed":
        error_id = "RECORDING_ERASED" if row["status"] == "erased" else "RECORDING_NOT_SEALED"
        raise RecordingError(error_id, f"recording {uniqueid} cannot be played")
    expires = int(time.time()) + PLAYBACK_URL_SECONDS
    query = urlencode({"who": who, "exp": expires,
                       "sig": playback_signature(request.app[API_TOKEN], uniqueid, who,
                                                 expires)})
    return web.json_response({"url": f"/recordings/{quote(uniqueid, safe='')}/audio?{query}",
                              "expires_at": expires})


async def signed_audio(request: web.Request) -> web.StreamResponse:
    uniqueid = request.match_info["uniqueid"]
    who = request.query.get("who", "")
    try:
        expires = int(request.query.get("exp", ""))
    except ValueError:
        expires = 0
    if not playback_signature_valid(request.app[API_TOKEN], uniqueid, who, expires,
                                    request.query.get("sig", "")) or not _USER.match(who):
        raise ApiError(403, "BAD_SIGNATURE", "this playback URL is not valid")
    if expires < time.time():
        raise ApiError(403, "URL_EXPIRED", "this playback URL has expired; ask for a new one")
    return await _play(request, uniqueid, who)


# ------------------------------------------------------------------ on-demand recording

class RecordingControlBody(Body):
    action: Literal["start", "stop"]


@accepts(RecordingControlBody)
async def control_recording(request: web.Request) -> web.Response:
    """``POST /api/calls/{uniqueid}/recording {"action": "start"|"stop"}``: the call's
    segments after the change (see :mod:`acd.recordings.on_demand` for the errors)."""
    found = principal(request)
    body = await parse_body(request, RecordingControlBody)
    recorder = request.app.get(ON_DEMAND)
    if recorder is None:
        raise ApiError(503, "RECORDINGS_UNAVAILABLE", "on-demand recording is not configured")
    actor = Actor(user=_who(request), role=found.role, agent_id=found.agent_id)
    result = await recorder.control(request.match_info["uniqueid"], body.action, actor)
    return web.json_response(result)


def setup_recording_routes(app: web.Application) -> None:
    """The recording routes, served by ``app[RECORDING_STORE]`` (without it they answer
    503) and ``app[ON_DEMAND]`` (the recorder of ``/api/calls/{uniqueid}/recording``)."""
    r = app.router
    r.add_post("/api/calls/{uniqueid}/recording", control_recording)
    r.add_get("/api/recordings", search_recordings)
    r.add_get("/api/recordings/access-log", get_access_log)
    r.add_get("/api/recordings/certificate", get_certificate)
    r.add_get("/api/recordings/{uniqueid}", get_recording)
    r.add_get("/api/recordings/{uniqueid}/audio", audio)
    r.add_post("/api/recordings/{uniqueid}/playback-url", playback_url)
    r.add_get("/recordings/{uniqueid}/audio", signed_audio)


__all__ = ["RangeNotSatisfiable", "parse_range", "setup_recording_routes"]
