"""Small shared pieces of the views: status badges, the alert line, download links, classes.

Every widget a browser test must find gets a CSS class ``gnb-<role>`` (``e2e`` selectors in
the Playwright tests use them); see :func:`tag`.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import ipywidgets as W

__all__ = ["STATUS_COLOURS", "Alert", "badge_html", "close_tree", "download_link", "tag"]

#: badge colours per run status (colour-blind-safe pairs; the text says the status too)
STATUS_COLOURS = {"idle": "#777777", "ready": "#4477aa", "pending": "#777777", "queued": "#4477aa",
                  "running": "#ee7733", "completed": "#228833", "failed": "#cc3311",
                  "cancelled": "#777777"}

MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json": "application/json", "png": "image/png", "svg": "image/svg+xml",
        "zip": "application/zip"}


def tag(widget: W.Widget, role: str) -> W.Widget:
    """Add the CSS class ``gnb-<role>`` and return the widget."""
    widget.add_class(f"gnb-{role}")
    return widget


def close_tree(widget: W.Widget) -> None:
    """Close a widget and all its descendants (frees their comms when a view is redrawn)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


def badge_html(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#777777")
    return (f'<span class="gnb-badge gnb-badge-{html.escape(status)}" style="background:{colour};'
            f'color:white;border-radius:0.8em;padding:0.1em 0.7em;font-size:90%;">'
            f"{html.escape(status)}</span>")


def download_link(data: bytes, filename: str, label: str | None = None) -> str:
    """An ``<a download>`` with the bytes inline (a browser download, no file on the server)."""
    ext = filename.rsplit(".", 1)[-1].lower()
    payload = base64.b64encode(data).decode("ascii")
    return (f'<a class="gnb-download gnb-download-{html.escape(ext)}" download="{html.escape(filename)}" '
            f'href="data:{MIME.get(ext, "application/octet-stream")};base64,{payload}">'
            f"{html.escape(label or filename)}</a>")


class Alert(W.HTML):
    """One line showing ``state.error`` (red) or ``state.notice`` (green); empty otherwise."""

    def __init__(self, state: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        tag(self, "alert")
        self._state = state
        state.observe(self._redraw, names=["error", "notice"])
        self._redraw()

    def _redraw(self, _change: Any = None) -> None:
        error, notice = self._state.error, getattr(self._state, "notice", "")
        if error:
            self.value = (f'<div class="gnb-error" role="alert" style="color:#cc3311;border:1px solid '
                          f'#cc3311;border-radius:4px;padding:0.3em 0.6em;">{html.escape(error)}</div>')
        elif notice:
            self.value = (f'<div class="gnb-notice" style="color:#228833;padding:0.3em 0.6em;">'
                          f"{html.escape(notice)}</div>")
        else:
            self.value = ""
