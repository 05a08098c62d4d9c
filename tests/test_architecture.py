"""The layering of STYLE.md §1, enforced.

1. In a fresh interpreter, importing the core and analysing the bundled sample loads none of
   dask, distributed, sqlalchemy or ipywidgets (nor matplotlib); the execution layer loads no
   SQLAlchemy or widgets, persistence no Dask or widgets, api no widgets.
2. Every module's imports, walked with ``ast``, only follow the allowed edges between layers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ganglioside_nb"

HEAVY = ("dask", "distributed", "sqlalchemy", "ipywidgets", "matplotlib")


def test_core_import_and_analysis_load_no_heavy_layer():
    code = (
        "import sys, ganglioside_nb as g, ganglioside_nb.core, ganglioside_nb.io\n"
        "g.analyze(g.datasets.sample_path())\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core loaded: {out.stdout.strip()}"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(filter(None, out.stdout.strip().split(",")))


def test_execution_loads_no_database_or_widgets():
    loaded = _loaded_after("import ganglioside_nb.execution")
    assert {"dask", "distributed"} <= loaded
    assert not loaded & {"sqlalchemy", "ipywidgets", "matplotlib"}, loaded


def test_persistence_loads_no_dask_or_widgets():
    loaded = _loaded_after("import ganglioside_nb.persistence")
    assert "sqlalchemy" in loaded
    assert not loaded & {"dask", "distributed", "ipywidgets", "matplotlib"}, loaded


def test_api_loads_no_widgets():
    assert "ipywidgets" not in _loaded_after("import ganglioside_nb.api")


#: layer -> layers it may import (besides itself). Pure ring = core, io, params, errors,
#: settings, datasets, testing (testing may use everything pure).
PURE = {"core", "io", "params", "errors", "settings", "datasets", "__init__"}
ALLOWED: dict[str, set[str]] = {
    "pure": {"pure"},
    "plots": {"pure"},
    "report": {"pure", "plots"},
    "execution": {"pure"},
    "persistence": {"pure"},
    "api": {"pure", "execution", "persistence", "plots", "report"},
    "ui": {"pure", "execution", "persistence", "api", "plots", "report"},
    "testing": {"pure"},
    "cli": {"pure", "api", "execution", "persistence", "ui", "plots", "report"},
    "magics": {"pure", "api", "execution", "ui", "plots", "report"},
}


#: single deliberate edges outside the table: IPython's extension protocol needs
#: ``load_ipython_extension`` at the package root; it imports the magics only when called.
EDGES = {("ganglioside_nb", "ganglioside_nb.magics")}

KNOWN = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def _layer(module: str) -> str:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head == "__main__":
        return "cli"
    if head in PURE or head not in KNOWN:  # a name re-exported by the package root
        return "pure"
    return head


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                is_pkg = path.name == "__init__.py"
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
                found.add(target)
                if not node.module:
                    found |= {f"{target}.{a.name}" for a in node.names}
            else:
                found.add(node.module or "")
    return found


def test_imports_follow_the_layer_table():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        src = _layer(module)
        for target in _imports(path, module):
            top = target.split(".")[0]
            if top == "ganglioside_nb":
                dst = _layer(target)
                if dst != src and dst not in ALLOWED.get(src, set()) and (module, target) not in EDGES:
                    violations.append(f"{module} -> {target} ({src} -> {dst})")
            elif src == "pure" and top in HEAVY:
                violations.append(f"{module} imports {top}")
    assert not violations, "\n".join(violations)
