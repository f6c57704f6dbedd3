"""The committed notebooks are jupytext pairs in sync: each .ipynb holds exactly the cells (types, sources,
tags) jupytext makes of its py:percent source, with no outputs; the check catches a changed cell."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from metastyle.config import ConfigError
from metastyle.study.nb import notebook, pairs, reproduce

ROOT = Path(__file__).resolve().parent.parent


def test_every_notebook_has_its_source_and_they_are_in_sync():
    runs = [nb.stem for nb in reproduce.notebooks()]
    srcs = [py.stem for py in pairs.sources()]
    assert len(runs) == 13 and sorted(srcs) == sorted(runs)
    assert {py.name: pairs.problems(py) for py in pairs.sources()} == {py.name: [] for py in pairs.sources()}
    assert pairs.main(["check"]) == 0


def test_notebooks_keep_their_shape():
    for py in pairs.sources():
        nb = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
        assert len([c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]) == 1, py.stem
        assert nb.cells[0].cell_type == "markdown", py.stem
        assert nb.metadata.kernelspec.name == "python3", py.stem
    assert "# %% tags=[\"parameters\"]" in (ROOT / "notebooks" / "02_adaptation.py").read_text()


def test_every_notebook_declares_the_parameters_and_sets_up_in_one_call():
    import papermill as pm

    for py in pairs.sources():
        assert list(pm.inspect_notebook(str(py.with_suffix(".ipynb")))) == list(notebook.PARAMETERS), py.stem
        assert py.read_text().count(f'notebook.start("{py.stem}", globals()') == 1, py.stem


def test_start_reads_the_namespace_seeds_torch_and_refuses_a_missing_or_unusable_parameter(tmp_path):
    import torch

    params = {"PROFILE": "smoke", "DATA": "embedded", "DATA_DIR": "", "OUT_DIR": str(tmp_path / "out"),
              "RUNS_DIR": "", "RESULTS_DIR": "", "SEED": 7, "THETA": ""}
    torch.manual_seed(0)
    cfg, ctx, rec = notebook.start("99_x", params, with_context=False)
    assert (cfg.profile, cfg.run.seed, ctx, rec.out) == ("smoke", 7, None, tmp_path / "out")
    assert torch.initial_seed() == 7
    with pytest.raises(ConfigError, match="99_x: its parameters cell does not declare SEED, THETA"):
        notebook.start("99_x", {k: v for k, v in params.items() if k not in ("SEED", "THETA")})
    with pytest.raises(ConfigError, match="99_x trains its own models; THETA cannot stand in"):
        notebook.start("99_x", {**params, "THETA": "theta.pt"}, with_context=False, takes_theta=False)


@pytest.fixture
def pair(tmp_path):
    src = ROOT / "notebooks" / "10_report"
    for ext in (".py", ".ipynb"):
        shutil.copy(src.with_suffix(ext), tmp_path / f"10_report{ext}")
    shutil.copy(ROOT / "notebooks" / "jupytext.toml", tmp_path / "jupytext.toml")
    return tmp_path / "10_report.py"


def test_check_catches_a_changed_cell_and_sync_repairs_it(pair, capsys):
    assert pairs.problems(pair) == []
    pair.write_text(pair.read_text().replace("from pathlib import Path", "from pathlib import PurePath"))
    assert pairs.problems(pair) == ["10_report.ipynb cell 2: source differs from 10_report.py"]
    assert pairs.main(["check", "--notebooks", str(pair.parent)]) == 1
    assert "10_report.ipynb cell 2" in capsys.readouterr().err
    pairs.sync(pair)
    assert pairs.problems(pair) == []
    assert "PurePath" in nbformat.read(pair.with_suffix(".ipynb"), as_version=4).cells[2].source


def test_check_catches_tags_cell_types_missing_cells_outputs_and_a_missing_notebook(pair):
    ipynb = pair.with_suffix(".ipynb")
    good = nbformat.read(ipynb, as_version=4)

    def broken(edit):
        nb = nbformat.from_dict(good)
        edit(nb)
        nbformat.write(nb, ipynb)
        return pairs.problems(pair)

    assert broken(lambda nb: nb.cells[1].metadata.pop("tags")) == [
        "10_report.ipynb cell 1: tags differs from 10_report.py"]
    assert broken(lambda nb: nb.cells[0].update(cell_type="raw")) == [
        "10_report.ipynb cell 0: type differs from 10_report.py"]
    assert broken(lambda nb: nb.cells.pop()) == ["10_report.ipynb has 3 cells, 10_report.py 4"]
    out = nbformat.v4.new_output("stream", text="hi")
    assert broken(lambda nb: nb.cells[2].outputs.append(out)) == [
        "10_report.ipynb: code cells [2] have outputs (commit notebooks stripped)"]
    ipynb.unlink()
    assert pairs.problems(pair) == ["10_report.ipynb is missing"]
    assert pairs.main(["sync", "--notebooks", str(pair.parent)]) == 0 and pairs.problems(pair) == []
    assert nbformat.read(ipynb, as_version=4) == good  # same cells, ids and metadata: the committed file


def test_check_refuses_a_folder_without_sources(tmp_path, capsys):
    assert pairs.main(["check", "--notebooks", str(tmp_path)]) == 2
    assert "no NN_*.py notebook sources" in capsys.readouterr().err
