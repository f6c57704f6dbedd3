"""Every notebook runs under ``smoke`` through the reproduce runner (none exempt) and writes finite metrics and
its figures; a failing notebook leaves the previous results intact (swap semantics)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest

from metastyle.study.nb import reproduce
from metastyle.study.results import check_finite

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [nb.stem for nb in reproduce.notebooks()]


def _numbers(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{prefix}{k}", v


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("smoke")
    results, runs = base / "results", base / "runs"
    rc = reproduce.main(["--profile", "smoke", "--results", str(results), "--runs-dir", str(runs)])
    return rc, results


def test_all_notebooks_run_under_smoke(smoke_run):
    rc, results = smoke_run
    assert rc == 0, "reproduce --profile smoke failed (see stderr)"
    for stem in NOTEBOOKS:
        out = results / stem / "smoke"
        assert (out / "executed.ipynb").is_file(), stem
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics, f"{stem}: empty metrics.json"
        check_finite(metrics)
        nums = dict(_numbers(metrics))
        assert nums and all(math.isfinite(v) for v in nums.values()), stem
        run = json.loads((out / "run.json").read_text())
        assert run["profile"] == "smoke" and "provenance" in run, stem
        if stem != "10_report":
            assert list(out.glob("*.png")) and list(out.glob("*.pdf")), f"{stem}: no figure"
        assert not list((results / stem).glob(".smoke.tmp-*")), f"{stem}: temporary folder left behind"
    report = (results / "REPORT-smoke.md").read_text()
    assert report.count("\n| ") >= 12 and "vgg16-caffe" in report
    assert NOTEBOOKS[-1] == "10_report"  # it collates the others, 11 included: claims 3, 4, 12 from smoke's 11
    assert "the budget curve (notebook 11) of profile `smoke`" in report


def test_key_smoke_numbers(smoke_run):
    _, results = smoke_run
    m = lambda nb: json.loads((results / nb / "smoke" / "metrics.json").read_text())  # noqa: E731
    assert m("00_setup_and_data")["n_params"] == 1_679_235
    assert m("00_setup_and_data")["n_in_params"] == 3_200
    assert m("01_meta_training")["iterations"] == 4
    assert m("10_report")["n_claims"] == 12
    mp = m("02_adaptation")["meta_vs_plain"]  # the meta / plain / scratch comparison ran on a held-out style
    assert mp["steps"] and all(set(d) == {"meta", "plain", "scratch"} for d in mp["styles"].values())
    assert m("09_johnson_with_metastyle_init")["final_loss_plain"] > 0
    b = m("11_budget_curve")["budget"]  # every snapshot of both runs (iteration 0 once) against scratch
    assert {(r["init"], r["iteration"]) for r in b["rows"]} == {("meta", 0), ("meta", 4), ("plain", 4)}
    assert len(b["seeds"]) == 3 and b["converged"]["styles"]


# every parameter the runner passes must be declared (an undeclared one is an error, never dropped)
RUNNER_PARAMS = 'DATA = ""\nDATA_DIR = ""\nRUNS_DIR = ""\nRESULTS_DIR = ""\nSEED = 0\nTHETA = ""'
FAILING = {"cells": [
    {"cell_type": "markdown", "metadata": {}, "source": "# failing"},
    {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
     "source": 'PROFILE = "smoke"\nOUT_DIR = ""\nFAIL = False\n' + RUNNER_PARAMS},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
     "source": "from pathlib import Path\nPath(OUT_DIR, 'metrics.json').write_text('{\"new\": 1}')\n"
               "assert not FAIL, 'boom'"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def test_failure_keeps_previous_results(tmp_path, capsys):
    nbdir, results = tmp_path / "nbs", tmp_path / "results"
    nbdir.mkdir()
    nb = nbformat.from_dict(FAILING)
    nbformat.write(nb, nbdir / "99_failing.ipynb")
    args = ["--profile", "smoke", "--results", str(results), "--notebooks", str(nbdir), "--runs-dir", str(tmp_path)]
    assert reproduce.main(args) == 0
    final = results / "99_failing" / "smoke"
    assert json.loads((final / "metrics.json").read_text()) == {"new": 1}
    (final / "metrics.json").write_text('{"old": 1}')  # mark the previous results
    nb.cells[1].source = 'PROFILE = "smoke"\nOUT_DIR = ""\nFAIL = True\n' + RUNNER_PARAMS
    nbformat.write(nb, nbdir / "99_failing.ipynb")
    assert reproduce.main(args) == 1
    err = capsys.readouterr().err
    assert "99_failing" in err and "error" in err
    assert json.loads((final / "metrics.json").read_text()) == {"old": 1}, "previous results were touched"
    assert sorted(p.name for p in final.iterdir()) == ["executed.ipynb", "metrics.json"]
    failed = results / "99_failing" / "smoke.failed"
    assert (failed / "executed.ipynb").is_file()
    assert not list((results / "99_failing").glob(".smoke.tmp-*"))


def test_undeclared_parameter_is_an_error(tmp_path, capsys):
    nbdir, results = tmp_path / "nbs", tmp_path / "results"
    nbdir.mkdir()
    nb = nbformat.from_dict(FAILING)
    nb.cells[1].source = 'PROFILE = "smoke"\nOUT_DIR = ""\nFAIL = False\nDATA = ""'  # no SEED, THETA, ...
    nbformat.write(nb, nbdir / "98_partial.ipynb")
    args = ["--profile", "smoke", "--results", str(results), "--notebooks", str(nbdir), "--runs-dir", str(tmp_path)]
    assert reproduce.main(args) == 1
    err = capsys.readouterr().err
    assert "98_partial" in err and "SEED" in err and "THETA" in err
    assert not (results / "98_partial" / "smoke").exists()
