"""Server-rendered pages: Jinja2 templates (autoescaped) in ``agent_gateway/templates``,
with the language of the request and the signed-in user's CSRF token."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from agent_gateway.consoles.i18n import (
    language,
    remember_language,
    script_words,
    translator,
)
from agent_gateway.keys import SESSION_KEY

TEMPLATES = Path(__file__).parent.parent / "templates"
STATIC = Path(__file__).parent.parent / "static"

_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _json_script(value) -> Markup:
    """JSON safe inside <script type="application/json">."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(
        ">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


_ENV.filters["json_script"] = _json_script


def page(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    lang = language(request)
    session = request.get(SESSION_KEY)
    html = _ENV.get_template(template).render(
        t=translator(lang), lang=lang, session=session,
        user=session.user if session else None,
        csrf=session.csrf_token if session else context.pop("csrf", ""),
        words=script_words(lang), **context)
    response = web.Response(text=html, content_type="text/html", charset="utf-8",
                            status=status)
    remember_language(request, response)
    return response
