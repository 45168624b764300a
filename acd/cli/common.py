"""What every command group of the `acd` command shares: the settings (a bad one is a
clear error naming the variable), the running stack's HTTP API, the roster in the
database, and printing an error."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from acd.adapters.db.engine import make_engine
from acd.adapters.db.roster import Roster
from acd.adapters.tls import local_client_context
from acd.ivr.loader import FlowError, load_site
from acd.settings import Settings
from acd.stack import migrate_database, secret_store

T = TypeVar("T")


def flows_site(settings):
    """The flows (:class:`~acd.ivr.models.Site`), or None when they cannot be read."""

    try:
        return load_site(settings.flows_dir)
    except (FlowError, OSError, ValueError):  # reports and plans work from the database
        return None


def database_unusable(url: str, exc: BaseException) -> str:
    """``database <url without its password> unusable: <the first line of the cause>``."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    if "no such table" in detail or re.search(r'relation "[^"]+" does not exist', detail):
        detail += " (the database has no tables yet: run 'acd migrate', or start 'acd up')"
    return f"database {shown} unusable: {detail}"


def load_settings() -> Settings:
    """The settings from the environment; exits with the bad variable named."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"MADOGUCHI_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise SystemExit(f"acd: error: bad setting: {problems}") from None


def error(message: str) -> None:
    print(f"acd: error: {message}", file=sys.stderr)


def gateway(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None,
            timeout: float = 10) -> tuple[int, Any] | None:
    """Call the running stack's API; (status, json) or None when it is not running."""
    request = urllib.request.Request(
        f"{settings.gateway_url}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {secret_store(settings).get('api')}",
                 "Content-Type": "application/json"})
    context = local_client_context(settings) if settings.gateway_https else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except OSError:
        return None


NOT_RUNNING = "the stack is not running (start it with 'acd up')"


def stack_call(method: str, path: str, body: dict[str, Any] | None = None,
               timeout: float = 60) -> Any:
    """The running stack's answer (its JSON); None after printing why there is none (not
    running, or the API's error id and message)."""
    answer = gateway(load_settings(), method, path, body, timeout=timeout)
    if answer is None:
        error(NOT_RUNNING)
        return None
    status, data = answer
    if status >= 400:
        details = data.get("details") if isinstance(data, dict) else None
        error(f"{data.get('error_id')}: {data.get('message')}"
              + (f" ({details})" if details else ""))
        return None
    return data


def roster_call(settings: Settings, work: Callable[[Roster], Awaitable[T]]) -> T:
    """Run ``work`` on the roster in the database (migrated first)."""

    async def run() -> T:
        await migrate_database(settings)
        engine = make_engine(settings.resolved_database_url)
        try:
            return await work(Roster(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())
