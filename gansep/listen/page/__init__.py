"""The rating page (HTML, JS, CSS; no external resources, so it works offline): one generic
page that renders any test served by `gansep.listen.server`."""

from __future__ import annotations

from pathlib import Path


def page_folder() -> Path:
    """The folder holding ``index.html``, ``mushra.js`` and ``mushra.css``."""
    return Path(__file__).parent
