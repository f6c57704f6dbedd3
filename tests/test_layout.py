"""The package's layout holds: domain code never imports the command line, sub-packages import each other only
downward, and the 0.1 module paths still import (one release) with a warning."""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "metastyle"
#: who may import whom: a sub-package imports only those listed (and the top-level config, context, errors)
ALLOWED = {
    "infra": set(),
    "method": {"data", "infra"},
    "data": {"infra"},
    "baselines": {"method", "data", "infra"},
    "study": {"method", "baselines", "data", "infra"},
    "app": {"method", "baselines", "data", "study", "infra"},
}


def imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("metastyle"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("metastyle")}
    return out


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


@pytest.mark.parametrize("sub", sorted(ALLOWED))
def test_sub_packages_import_only_downward(sub):
    wrong = []
    for path in (PKG / sub).rglob("*.py"):
        for mod in imports_of(path):
            other = layer(mod)
            if other and other != sub and other not in ALLOWED[sub]:
                wrong.append(f"{path.relative_to(PKG.parent)} imports {mod}")
    assert not wrong, "\n".join(wrong)


def test_the_rule_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from metastyle.app.flags import require\n")
    assert layer(next(m for m in imports_of(bad) if m.count(".") == 2)) == "app" not in ALLOWED["method"]


def test_old_module_paths_import_with_a_warning():
    import importlib
    import sys

    sys.modules.pop("metastyle.meta", None)
    with pytest.warns(DeprecationWarning, match="metastyle.method.meta"):
        old = importlib.import_module("metastyle.meta")
    from metastyle.method import meta

    assert old is meta
    with pytest.warns(DeprecationWarning, match="metastyle.data.images.load_image"):
        from metastyle.data import load_image  # noqa: F401
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from metastyle.video import stylize_video  # a split module: each name is found where it lives now
    from metastyle.method.video import stylize_video as new

    assert stylize_video is new
