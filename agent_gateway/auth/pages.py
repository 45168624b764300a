"""Sign-in, sign-out and the change-password page.

The sign-in form has no session yet: its CSRF token is a random value in a short-lived
SameSite=Strict cookie that the form must echo (double submit). A successful sign-in
starts a new session (a new token: no fixation) and goes to the user's console.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from acd.adapters.db import access_log as actions
from acd.adapters.db.engine import UNREACHABLE
from acd.adapters.db.users import SignInRefused, UserError
from acd.auth.policy import new_token
from agent_gateway.auth.middleware import (
    CSRF_FIELD,
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    set_session_cookie,
)
from agent_gateway.consoles.i18n import language, translator
from agent_gateway.consoles.render import page
from agent_gateway.http import ApiError
from agent_gateway.keys import ACCESS_LOG, AUTH_POLICY, SESSION_KEY, SESSIONS, USERS

LOGIN_CSRF_COOKIE = "mdg_login_csrf"
LOGIN_TRIED = web.RequestKey("login_tried", str)
HOME = {"agent": "/agent", "supervisor": "/supervisor", "admin": "/supervisor",
        "viewer": "/viewer"}


def _login_form(request: web.Request, error: str | None = None,
                status: int = 200) -> web.Response:
    token = new_token()
    t = translator(language(request))
    notice = t("session_expired") if request.query.get("expired") else None
    response = page(request, "login.html", status=status, csrf=token, error=error,
                    notice=notice, login=request.get(LOGIN_TRIED, ""))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        path="/login", max_age=3600,
                        secure=request.app[AUTH_POLICY].secure_cookies)
    return response


async def login_page(request: web.Request) -> web.Response:
    return _login_form(request)


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    given, expected = str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "CSRF_FAILED", "the sign-in form is stale or forged; reload it")
    login, password = str(form.get("login", "")).strip()[:40], str(form.get("password", ""))
    t = translator(language(request))
    request[LOGIN_TRIED] = login
    try:
        user = await request.app[USERS].sign_in(login, password, client_address(request))
        token, _session = await request.app[SESSIONS].create(user, client_address(request))
    except SignInRefused as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        message = (t(exc.error_id.lower(), minutes=details.get("minutes"))
                   if exc.error_id in ("LOCKED", "SOURCE_LOCKED") else t("bad_credentials"))
        return _login_form(request, message, status=401)
    except UNREACHABLE:  # signed-in consoles go on from memory; a new sign-in waits
        return _login_form(request, t("database_away"), status=503)
    response = web.HTTPSeeOther(HOME[user.role])
    set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    await request.app[SESSIONS].end(session.token_hash)
    await request.app[ACCESS_LOG].write(actions.SIGN_OUT, session.user.id,
                                        remote=client_address(request))
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response


async def home(request: web.Request) -> web.Response:
    session = request.get(SESSION_KEY)
    raise web.HTTPSeeOther(HOME[session.user.role] if session else "/login")


async def password_page(request: web.Request) -> web.Response:
    return page(request, "password.html")


async def password_submit(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    form = await request.post()
    t = translator(language(request))
    new, again = str(form.get("new", "")), str(form.get("again", ""))
    if new != again:
        return page(request, "password.html", status=422, error=t("passwords_differ"))
    try:
        await request.app[USERS].set_password(session.user.id, new,
                                              current=str(form.get("current", "")),
                                              remote=client_address(request))
    except UserError as exc:
        return page(request, "password.html", status=422, error=exc.message,
                    problems=exc.details if isinstance(exc.details, list) else None)
    await request.app[SESSIONS].end_all(session.user.id, keep=session.token_hash)
    return page(request, "password.html", done=t("password_changed"))


def setup_auth_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", home)
    r.add_get("/login", login_page)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_get("/password", password_page)
    r.add_post("/password", password_submit)


__all__ = ["SESSION_COOKIE", "setup_auth_routes"]
