"""The study's notebooks as jupytext pairs: ``notebooks/NN_name.py`` (py:percent) is the source of truth and
``notebooks/NN_name.ipynb`` (what papermill runs) must hold exactly its cells, without outputs.

``python -m metastyle.study.nb.pairs check`` lists every pair that is out of sync (exit 1), ``... sync`` rewrites
each .ipynb from its .py (``make sync-notebooks``; docs/notebooks.md). Cell ids are ``NN-ii`` (notebook
number, cell index), so a sync of an unchanged .py rewrites the .ipynb byte for byte.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from metastyle.infra import files
from metastyle.study.nb.reproduce import ROOT

NOTEBOOKS = ROOT / "notebooks"


def sources(folder: Path = NOTEBOOKS) -> list[Path]:
    """The ``NN_*.py`` sources of the notebooks in ``folder``."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def expected(py: Path) -> nbformat.NotebookNode:
    """The notebook jupytext makes of ``py``, outputs empty and cell ids ``NN-ii``."""
    import jupytext

    nb = jupytext.read(py)
    nb.metadata.pop("jupytext", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{py.stem[:2]}-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _key(nb) -> list[tuple]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def problems(py: Path) -> list[str]:
    """Why ``py``'s .ipynb is out of sync with it (empty when in sync): a missing .ipynb, a different number of
    cells, the first cell whose type, source or tags differ, and code cells with outputs."""
    ipynb = py.with_suffix(".ipynb")
    if not ipynb.is_file():
        return [f"{ipynb.name} is missing"]
    have, want = nbformat.read(ipynb, as_version=4), expected(py)
    out = []
    if len(have.cells) != len(want.cells):
        out.append(f"{ipynb.name} has {len(have.cells)} cells, {py.name} {len(want.cells)}")
    for i, (h, w) in enumerate(zip(_key(have), _key(want))):
        if h != w:
            what = [n for n, a, b in zip(("type", "source", "tags"), h, w) if a != b]
            verb = "differs" if len(what) == 1 else "differ"
            out.append(f"{ipynb.name} cell {i}: {', '.join(what)} {verb} from {py.name}")
            break
    with_outputs = [i for i, c in enumerate(have.cells) if c.cell_type == "code" and c.get("outputs")]
    if with_outputs:
        out.append(f"{ipynb.name}: code cells {with_outputs} have outputs (commit notebooks stripped)")
    return out


def sync(py: Path) -> Path:
    """Write ``py``'s .ipynb from it (outputs stripped), atomically like every other output."""
    return files.write_text(py.with_suffix(".ipynb"), nbformat.writes(expected(py)) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m metastyle.study.nb.pairs", description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("check", "sync"))
    ap.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the NN_*.py / .ipynb pairs")
    args = ap.parse_args(argv)
    pys = sources(args.notebooks)
    if not pys:
        print(f"pairs: no NN_*.py notebook sources in {args.notebooks}", file=sys.stderr)
        return 2
    if args.action == "sync":
        for py in pys:
            print("wrote", sync(py))
        return 0
    bad = [p for py in pys for p in problems(py)]
    for p in bad:
        print(f"pairs: {p} (run `make sync-notebooks`)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
