"""Every docstring example of the package runs (STYLE.md: doctests are never skipped)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ganglioside_nb

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(ganglioside_nb.__path__, "ganglioside_nb.")
    if ".migrations" not in m.name and not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0, f"{failures} docstring example(s) failed in {name}"
