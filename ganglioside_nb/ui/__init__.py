"""Widgets (ipywidgets 8) over one traitlets :class:`AppState`; no analysis logic here."""
