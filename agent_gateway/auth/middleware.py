"""Authentication of every request: the API token or a console session, CSRF, the role
policy (:mod:`agent_gateway.auth.access`), and the security headers of the pages.

- ``Authorization: Bearer <token>`` (the CLI, scripts, tests): the ``service`` principal;
  only for ``/api/``; a wrong token is 401. No CSRF token is needed (a browser never
  sends this header by itself).
- The ``mdg_session`` cookie (HttpOnly, SameSite=Strict, Secure over https): a signed-in
  user; expired (30 min idle / 12 h after sign-in, see settings) means signed out. Every
  POST/PUT/PATCH/DELETE from a session needs the session's CSRF token, in the
  ``X-CSRF-Token`` header (scripts) or the ``csrf_token`` form field (forms).
- Without either: ``/api/`` and ``/ws`` answer 401, pages redirect to ``/login``.
- Before all of it: a source outside the site's ``console_networks`` gets 403
  ``SOURCE_NOT_ALLOWED`` (:func:`allowed_sources`); over https every answer carries HSTS.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import structlog
from aiohttp import web

from acd.adapters.db import access_log as actions
from acd.adapters.db.sessions import Session
from acd.domain.actor import SERVICE, Actor
from agent_gateway.auth.access import Forbidden, authorize, personal_data_subject
from agent_gateway.auth.principal import PRINCIPAL_KEY
from agent_gateway.consoles.i18n import language, translator
from agent_gateway.http import ApiError, Handler
from agent_gateway.keys import (
    ACCESS_LOG,
    API_TOKEN,
    AUTH_POLICY,
    CONTROLLER,
    SESSION_KEY,
    SESSIONS,
)

log = structlog.get_logger(__name__)

SESSION_COOKIE = "mdg_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths anyone may reach (the sign-in form checks its own CSRF cookie).
PUBLIC = ("/login", "/healthz", "/static/", "/recordings/", "/favicon.ico")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}


#: Browsers that saw the consoles over https refuse plain http to them for a year.
HSTS = "max-age=31536000"


def is_public(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC)


def client_address(request: web.Request) -> str:
    return request.remote or ""


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.app[AUTH_POLICY].secure_cookies)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


async def csrf_given(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _forbidden_page(request: web.Request, message: str) -> web.Response:
    t = translator(language(request))
    return web.Response(status=403, content_type="text/html", charset="utf-8",
                        text=f"<!doctype html><meta charset=utf-8><title>403</title>"
                             f"<p>{t('forbidden')}</p><p><a href=/>{t('app')}</a></p>"
                             f"<!-- {message} -->")


def _agent_call(request: web.Request) -> Callable[[str | None], str | None]:
    controller = request.app.get(CONTROLLER)

    def call_of(agent_id: str | None) -> str | None:
        state = controller.agents.by_id.get(agent_id) if controller and agent_id else None
        return state.call if state else None
    return call_of


def _token_holder(request: web.Request) -> Actor | None:
    """The ``service`` actor for a request under ``/api/`` with the API token; None
    without an ``Authorization`` header; a wrong token is 401."""
    authorization = request.headers.get("Authorization")
    if authorization is None or not request.path.startswith("/api/"):
        return None
    given = authorization.removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), request.app[API_TOKEN].encode()):
        raise ApiError(401, "UNAUTHENTICATED", "a valid API token is required")
    return SERVICE


async def _principal(request: web.Request) -> tuple[Actor | None, Session | None]:
    holder = _token_holder(request)
    if holder is not None:
        return holder, None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None, None
    session = await request.app[SESSIONS].lookup(token)
    if session is None:
        return None, None
    return session.user.actor(), session


@web.middleware
async def token_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The API token and nothing else (a gateway without consoles: tools, tests)."""
    if request.path.startswith("/api/"):
        holder = _token_holder(request)
        if holder is None:
            raise ApiError(401, "UNAUTHENTICATED", "a valid API token is required")
        request[PRINCIPAL_KEY] = holder
    return await handler(request)


@web.middleware
async def enforce_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The role policy alone, for a principal set by an earlier middleware."""
    who = request.get(PRINCIPAL_KEY)
    if who is not None:
        try:
            authorize(request, who, _agent_call(request))
        except Forbidden as exc:
            raise ApiError(403, exc.error_id, str(exc), {"role": who.role}) from None
    return await handler(request)


@web.middleware
async def allowed_sources(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only the networks the site names reach the consoles and the API (403 otherwise);
    ``/healthz`` answers monitoring from anywhere."""
    if request.path != "/healthz" and \
            not request.app[AUTH_POLICY].source_allowed(client_address(request)):
        log.warning("auth.source_refused", remote=client_address(request), path=request.path)
        raise ApiError(403, "SOURCE_NOT_ALLOWED", "this address may not use the consoles or "
                       "the API", {"remote": client_address(request)})
    return await handler(request)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_public(request.path):
        response = await handler(request)
        _secure(request, response)
        return response
    who, session = await _principal(request)
    is_api = request.path.startswith("/api/") or request.path == "/ws"
    if who is None:
        if is_api:
            raise ApiError(401, "UNAUTHENTICATED", "sign in or give a valid API token")
        expired = "?expired=1" if request.cookies.get(SESSION_COOKIE) else ""
        raise web.HTTPSeeOther(f"/login{expired}")
    request[PRINCIPAL_KEY] = who
    if session is not None:
        request[SESSION_KEY] = session
        if request.method in UNSAFE_METHODS and not hmac.compare_digest(
                (await csrf_given(request)).encode(), session.csrf_token.encode()):
            log.warning("auth.csrf_refused", user=who.user, path=request.path)
            raise ApiError(403, "CSRF_FAILED", "the CSRF token is missing or wrong; reload "
                           "the page")
    try:
        authorize(request, who, _agent_call(request))
    except Forbidden as exc:
        await request.app[ACCESS_LOG].write(actions.FORBIDDEN, who.user,
                                            remote=client_address(request),
                                            subject=f"{request.method} {request.path}")
        if is_api:
            raise ApiError(403, exc.error_id, str(exc), {"role": who.role}) from None
        return _secure(request, _forbidden_page(request, str(exc)))
    response = await handler(request)
    subject = personal_data_subject(request)
    if subject and response.status < 400 and session is not None:
        await request.app[ACCESS_LOG].write(actions.PERSONAL_DATA, who.user,
                                            remote=client_address(request),
                                            subject=subject, detail=request.path_qs[:200])
    return _secure(request, response)


def _secure(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.app[AUTH_POLICY].secure_cookies:  # served over https: only ever https
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if response.content_type == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
    return response
