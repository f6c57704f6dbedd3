"""The package's layout holds: domain code never imports the command line, sub-packages import each other only
downward, and inside study/ the experiments import neither the performance lab nor the notebook machinery."""
from __future__ import annotations

import ast
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


#: inside study/, the performance lab and the notebook machinery sit on top of the experiments (study/*.py,
#: claims/): they import the experiments, never the other way round
ON_TOP = {"lab", "nb"}


def reaches_up(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == ["metastyle", "study"] and len(parts) > 2 and parts[2] in ON_TOP


def test_study_experiments_import_neither_the_lab_nor_the_notebook_machinery(tmp_path):
    wrong = [f"{path.relative_to(PKG.parent)} imports {mod}" for path in (PKG / "study").rglob("*.py")
             if path.relative_to(PKG / "study").parts[0] not in ON_TOP
             for mod in imports_of(path) if reaches_up(mod)]
    assert not wrong, "\n".join(wrong)
    bad = tmp_path / "bad.py"
    bad.write_text("from metastyle.study.nb import notebook\n")
    assert any(reaches_up(m) for m in imports_of(bad))  # the rule can fail
