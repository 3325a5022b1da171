"""The web UI: Jinja2-rendered page shells under ``/`` and ``/ui/``, and the plain JavaScript that fills them from
the JSON API with the signed-in key (see ``pages.py``)."""

from api.web.pages import PUBLIC_PATHS, web_ui

__all__ = ["PUBLIC_PATHS", "web_ui"]
