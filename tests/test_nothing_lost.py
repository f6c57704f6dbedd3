"""Nothing already written is lost: name clashes, existing outputs and existing runs are refused unless a flag
says so, and ``--resume`` refuses a changed config, a log with holes, and a damaged train state.

Each case runs the CLI in-process (``cli.main``) and checks the one error line, exit code 2, and that every
file present before is byte-for-byte unchanged (docs/reliability.md, "Nothing overwritten").
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_reliability import fails, no_leftovers, snapshot  # noqa: E402

from metastyle.app import cli
from metastyle.infra import checkpoint  # noqa: E402
from metastyle.method.nets import TransformerNet  # noqa: E402

SMOKE = ["--profile", "smoke", "--no-progress"]


def _photo(path: Path, seed: int = 0, size=(24, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def model(tmp_path) -> Path:
    torch.manual_seed(0)
    return checkpoint.save(checkpoint.model_record(TransformerNet()), tmp_path / "model.pt")


def _stylize(model, *args):
    return ["stylize", *args, "--model", model, "--device", "cpu"]


# ------------------------------------------------------------------------------------------ stylize
@pytest.mark.parametrize("names", [("img/good.jpg", "img/good.png"), ("x/one.jpg", "x/y/one.jpg")])
def test_stylize_refuses_two_inputs_with_the_same_output_name(tmp_path, model, capsys, names):
    paths = [_photo(tmp_path / n, i) for i, n in enumerate(names)]
    line = fails(_stylize(model, *paths, "-o", tmp_path / "o" / "c", "--mkdir"), capsys, tmp_path,
                 "would both be written to")
    assert str(paths[0]) in line and str(paths[1]) in line
    assert not (tmp_path / "o").exists()


def test_stylize_refuses_to_write_over_its_inputs(tmp_path, model, capsys):
    _photo(tmp_path / "d" / "a.png")
    fails(_stylize(model, tmp_path / "d", "-o", tmp_path / "d"), capsys, tmp_path, "would replace the input image")
    fails(_stylize(model, tmp_path / "d", "-o", tmp_path / "d", "--overwrite"), capsys, tmp_path,
          "would replace the input image")


def test_stylize_keeps_an_existing_output_unless_overwrite(tmp_path, model, capsys):
    _photo(tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"an earlier result")
    fails(_stylize(model, tmp_path / "a.png", "-o", tmp_path / "out"), capsys, tmp_path,
          "already exists; pass --overwrite")
    assert cli.main([str(a) for a in _stylize(model, tmp_path / "a.png", "-o", tmp_path / "out",
                                              "--overwrite")]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (24, 20)


def test_stylize_mkdir_leaves_no_folder_when_the_input_fails(tmp_path, model, capsys):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    fails(_stylize(model, tmp_path / "bad.png", "-o", tmp_path / "new" / "sub", "--mkdir"), capsys, tmp_path,
          "cannot read image")
    assert not (tmp_path / "new").exists()
    _photo(tmp_path / "good.png")
    assert cli.main([str(a) for a in _stylize(model, tmp_path / "good.png", "-o", tmp_path / "new" / "sub",
                                              "--mkdir")]) == 0
    assert (tmp_path / "new" / "sub" / "good.png").is_file()


def test_stylize_prints_outputs_written_before_a_failure(tmp_path, model, capsys):
    _photo(tmp_path / "in" / "a.png")
    Image.new("RGB", (40, 10)).save(tmp_path / "in" / "b.png")  # too small: fails after a.png is written
    (tmp_path / "out").mkdir()
    capsys.readouterr()
    assert cli.main([str(a) for a in _stylize(model, tmp_path / "in", "-o", tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "out" / "a.png")]
    assert err.startswith(f"metastyle: error: {tmp_path / 'in' / 'b.png'}: image of 40x10 px")


# -------------------------------------------------------------------------------------------- train
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished smoke run (4 iterations, checkpoints at 2 and 4)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["train", *SMOKE, "--out", str(run)]) == 0
    return run


@pytest.fixture
def run(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def test_train_refuses_a_folder_holding_a_run_without_resume_or_overwrite(run, capsys):
    fails(["train", *SMOKE, "--out", run], capsys, run, "already holds a run")
    (run / "log.csv").write_text((run / "log.csv").read_text() + "99,1,1,1,1,1,1,1,1,1\n")  # marks the old log
    assert cli.main(["train", *SMOKE, "--out", str(run), "--overwrite"]) == 0
    assert [r.split(",")[0] for r in (run / "log.csv").read_text().splitlines()[1:]] == ["1", "2", "3", "4"]
    no_leftovers(run)


def test_resume_refuses_a_changed_config_and_names_the_keys(run, capsys):
    line = fails(["train", *SMOKE, "--out", run, "--resume", "--run.seed", "7", "--meta.outer_lr", "0.5"],
                 capsys, run, "--resume refused: the config differs")
    assert "meta.outer_lr (0.001 -> 0.5)" in line and "run.seed (12345 -> 7)" in line
    fails(["train", *SMOKE, "--out", run, "--resume", "--meta.iterations", "2"], capsys, run,
          "is at step 4, past meta.iterations=2")


def test_resume_accepts_a_change_of_a_safe_field(run, capsys):
    assert cli.main(["train", *SMOKE, "--out", str(run), "--resume", "--meta.iterations", "6",
                     "--meta.log_every", "2"]) == 0
    assert [r.split(",")[0] for r in (run / "log.csv").read_text().splitlines()[1:]] == list("123456")
    assert checkpoint.load(run / "train_state.pt")["step"] == 6


def test_resume_refuses_a_log_missing_rows_before_the_checkpoint(run, capsys):
    rows = (run / "log.csv").read_text().splitlines()
    (run / "log.csv").write_text("\n".join([rows[0], rows[1]]) + "\n")  # steps 2-4 lost by an earlier restart
    fails(["train", *SMOKE, "--out", run, "--resume"], capsys, run, "lacks 3 row(s) before the checkpoint's step 4")


def test_resume_drops_log_rows_past_the_checkpoint(run, capsys):
    with (run / "log.csv").open("a") as f:
        f.write("5,0.1,0.1,0.1,0.1,0.1,0.1,1,1,1\n")  # logged by a run killed before its next checkpoint
    assert cli.main(["train", *SMOKE, "--out", str(run), "--resume"]) == 0
    assert [r.split(",")[0] for r in (run / "log.csv").read_text().splitlines()[1:]] == list("1234")


def _damage(state: dict, how: str) -> dict:
    if how in ("rng", "optimizer"):
        state.pop(how)
    elif how == "step-str":
        state["step"] = "4"
    elif how == "step-float":
        state["step"] = 1e9
    elif how == "model-shape":
        state["model"]["conv1.conv.weight"] = torch.zeros(3)
    elif how == "adam-shape":
        first = next(iter(state["optimizer"]["state"]))
        state["optimizer"]["state"][first]["exp_avg"] = torch.zeros(2, 2)
    elif how == "nan":
        state["model"]["conv1.conv.weight"][0] = float("nan")
    return state


@pytest.mark.parametrize("how, message", [
    ("rng", "is damaged: no rng entry"), ("optimizer", "is damaged: no optimizer entry"),
    ("step-str", "is damaged: its step '4' is not a step count"),
    ("step-float", "is damaged: its step 1000000000.0 is not a step count"),
    ("model-shape", "does not match the TransformerNet architecture: size mismatch for conv1.conv.weight"),
    ("adam-shape", "is damaged: cannot restore its optimiser or RNG state (Adam exp_avg of shape (2, 2)"),
    ("nan", "non-finite (NaN or inf) weights"),
])
def test_resume_refuses_a_damaged_train_state_in_one_line(run, capsys, how, message):
    state = checkpoint.load(run / "train_state.pt")
    checkpoint.save(_damage(state, how), run / "train_state.pt")
    fails(["train", *SMOKE, "--out", run, "--resume"], capsys, run, message)


def test_resume_refuses_a_step_past_the_iterations(run, capsys):
    state = checkpoint.load(run / "train_state.pt")
    checkpoint.save(state | {"step": 10**9}, run / "train_state.pt")
    fails(["train", *SMOKE, "--out", run, "--resume"], capsys, run, "is at step 1000000000, past meta.iterations=4")


def test_snapshot_helper_sees_changes(tmp_path):
    """The unchanged-files check above can fail: a rewritten file changes the snapshot."""
    (tmp_path / "f").write_bytes(b"1")
    before = snapshot(tmp_path)
    (tmp_path / "f").write_bytes(b"2")
    assert snapshot(tmp_path) != before
