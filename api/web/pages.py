"""The web UI's pages: server-rendered shells (layout, navigation, forms, labels) that ``static/parley.js`` fills
from the JSON API (``/api/v1``) with the API key the user signs in with. The key stays in the tab's
``sessionStorage`` and travels only as ``Authorization: Bearer``, so the pages need no key and no session of their
own (``BearerKeyAuth`` skips ``/`` and ``/ui/``), and the browser gets exactly the permissions the key has on the
API. Everything a user wrote reaches the page through ``textContent``; the Content-Security-Policy allows scripts
from this server only, so nothing inline runs and nothing loads from elsewhere."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from litestar import Controller, Response, Router, get
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_PATH = "/ui/static"

# The paths the bearer-key middleware lets through: the pages and their static files (the data they show comes
# from /api/v1, which needs the key).
PUBLIC_PATHS = ["^/$", "^/ui(/|$)"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_pages = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _asset_versions() -> dict[str, str]:
    """A short content hash per static file, appended to its URL so a changed file is fetched again."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in STATIC.iterdir() if path.is_file()
    }


_ASSETS = _asset_versions()


def asset(name: str) -> str:
    return f"{STATIC_PATH}/{name}?v={_ASSETS.get(name, '0')}"


_pages.globals["asset"] = asset


def render(template: str, page: str, title: str, **ids: str) -> Response[str]:
    """A page shell: ``page`` tells the script what to load; ``ids`` (from the path) go into data attributes,
    escaped by Jinja2."""
    context: dict[str, Any] = {"page": page, "title": title, "ids": ids}
    html = _pages.get_template(template).render(**context)
    return Response(html, media_type=MediaType.HTML, headers=SECURITY_HEADERS)


class WebPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/", sync_to_thread=False)
    def home(self) -> Response[str]:
        """Sign in, then the collections: list and create."""
        return render("collections.html", "collections", "Collections")

    @get("/ui/collections/{collection_id:str}", sync_to_thread=False)
    def collection(self, collection_id: str) -> Response[str]:
        """A collection: its documents (pages, summaries), uploads with ingestion progress, and its chats."""
        return render("collection.html", "collection", "Collection", collection_id=collection_id)

    @get("/ui/chats/{session_id:str}", sync_to_thread=False)
    def chat(self, session_id: str) -> Response[str]:
        """A chat session: streamed answers with their citations, and votes."""
        return render("chat.html", "chat", "Chat", session_id=session_id)

    @get("/ui/chats/{session_id:str}/timeline", sync_to_thread=False)
    def timeline(self, session_id: str) -> Response[str]:
        """A chat session's history from the audit log: every event, each answer's template version and chunks."""
        return render("timeline.html", "timeline", "History timeline", session_id=session_id)

    @get("/ui/templates", sync_to_thread=False)
    def templates(self) -> Response[str]:
        """Prompt templates: list and create."""
        return render("templates.html", "templates", "Prompt templates")

    @get("/ui/templates/{template_id:str}", sync_to_thread=False)
    def template(self, template_id: str) -> Response[str]:
        """A prompt template's editor, with a live preview of its prompt and the diff between its versions."""
        return render("template.html", "template", "Prompt template", template_id=template_id)


web_ui = Router(
    path="/",
    route_handlers=[
        WebPages,
        create_static_files_router(path=STATIC_PATH, directories=[STATIC], include_in_schema=False),
    ],
    include_in_schema=False,
)
