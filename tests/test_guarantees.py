"""The guarantees of docs/reliability.md that issue 23's probe tested, one test per behaviour: no code from a
file, no write without a claim, no value unchecked, resume checks everything that defines a run, one true line
per error, nothing left behind. Each test fails on the code before issue 23's fixes and passes after.

CLI cases run in-process (``cli.main``) through ``fails`` (exit 2, one ``metastyle: error:`` line, every file
present before unchanged, no ``*.tmp`` left).
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import sys
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_reliability import fails, no_leftovers, snapshot  # noqa: E402

from metastyle import config  # noqa: E402
from metastyle.app import cli  # noqa: E402
from metastyle.data import images, sources, video_io  # noqa: E402
from metastyle.errors import MetaStyleError  # noqa: E402
from metastyle.infra import checkpoint, files, runtime  # noqa: E402
from metastyle.method import vgg  # noqa: E402
from metastyle.method.nets import TransformerNet  # noqa: E402
from metastyle.study.lab import bench  # noqa: E402
from metastyle.study.nb import reproduce  # noqa: E402

SMOKE = ["--profile", "smoke", "--no-progress"]


def _photo(path: Path, seed: int = 0, size=(40, 36)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)).save(path)
    return path


def _model(path: Path, **weights) -> Path:
    torch.manual_seed(0)
    rec = checkpoint.model_record(TransformerNet())
    rec["model"].update(weights)
    return checkpoint.save(rec, path)


def _video(path: Path, frames: int = 4, size=(48, 32)) -> Path:
    rng = np.random.default_rng(0)
    return video_io.write_video([rng.integers(0, 255, (size[1], size[0], 3), np.uint8) for _ in range(frames)],
                                path, fps=8)


def _ok(argv) -> None:
    assert cli.main([str(a) for a in argv]) == 0


class _Evil:
    """Unpickling this runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# ============================================================================ no code from a file
@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An isolated torch hub cache."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    return tmp_path / "hub" / "checkpoints"


@pytest.mark.parametrize("name, file", [("vgg16", "vgg16-397923af.pth"), ("auto", "vgg16-397923af.pth"),
                                        ("auto-vgg19", "vgg19-dcbb9e9d.pth"), ("vgg19", "vgg19-dcbb9e9d.pth")])
def test_a_malicious_hub_cache_file_never_runs_code(hub, tmp_path, name, file):
    marker = tmp_path / "pwned"
    torch.save({"features.0.weight": _Evil(marker)}, hub / file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            net = vgg.load_loss_net(name, ("relu1_1",))
        except vgg.LossNetUnavailable as err:
            assert not name.startswith("auto")
            assert "refusing to load" in str(err) and "\n" not in str(err)
        else:  # auto falls back to the offline network, saying why
            assert name.startswith("auto") and net.info.name == "vgg16-caffe"
            assert any("refusing to load" in str(w.message) for w in caught)
    assert not marker.exists()


@pytest.mark.parametrize("content, says", [
    ("zip", "a zip archive, but not a PyTorch checkpoint file"),
    ("pickle", "not a PyTorch checkpoint file (a bare pickle"),
    ("text", "not a PyTorch checkpoint file (not a zip archive"),
])
def test_a_file_that_is_not_torch_weights_is_named_for_what_it_is(tmp_path, capsys, content, says):
    path = tmp_path / "weights.pth"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "hello")
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"features.0.weight": [1.0]}))
    else:
        path.write_text("101 not weights\n")
    line = fails(["info", "--loss-net", "vgg16", "--vgg-weights", path], capsys, tmp_path, says)
    assert "weights_only" not in line and "enforce fail" not in line
    fails(["stylize", tmp_path / "weights.pth", "--model", path, "-o", tmp_path], capsys, tmp_path, says)


@pytest.mark.parametrize("tensor, says", [
    (torch.zeros(32, 3, 9, 9, dtype=torch.complex64), "conv1.conv.weight has dtype complex64"),
    (torch.zeros(32, 3, 9, 9).to_sparse(), "conv1.conv.weight is a sparse"),
])
def test_sparse_or_complex_weights_are_one_line(tmp_path, capsys, tensor, says):
    model = _model(tmp_path / "m.pt", **{"conv1.conv.weight": tensor})
    _photo(tmp_path / "a.png")
    fails(["stylize", tmp_path / "a.png", "--model", model, "-o", tmp_path / "out", "--mkdir"], capsys, tmp_path,
          says)


# ============================================================================ no write without a claim
def test_a_dangling_log_link_in_a_run_folder_is_refused_not_followed(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").symlink_to(tmp_path / "elsewhere" / "log.csv")
    (tmp_path / "elsewhere").mkdir()
    for command in ("train", "train-plain"):
        fails([command, *SMOKE, "--out", run], capsys, tmp_path, "log.csv is a symbolic link")
        fails([command, *SMOKE, "--out", run, "--resume"], capsys, tmp_path, "")
    assert not (tmp_path / "elsewhere" / "log.csv").exists()
    from metastyle.infra.runlog import RunLog

    with pytest.raises(MetaStyleError, match="is a symbolic link"):
        RunLog(run / "log.csv", ["loss"], tensorboard=False)
    assert not (tmp_path / "elsewhere" / "log.csv").exists()


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, capsys):
    from metastyle.infra import claims

    run = tmp_path / "run"
    with claims.locked(run):
        for command in ("train", "train-plain"):
            line = fails([command, *SMOKE, "--out", run], capsys, None, f"{run} is in use by another run")
            assert f"(pid {os.getpid()})" in line
        with pytest.raises(MetaStyleError, match="in use by another run"):
            with claims.locked(run):
                pass
    assert not run.exists()  # made by the lock, left empty: removed again
    with claims.locked(run):
        (run / "kept").write_text("x")
    assert [p.name for p in run.iterdir()] == ["kept"]  # the lock file goes, the run's files stay


def _meta_run(folder: Path) -> Path:
    """A folder that looks like a meta-training run (config.json without a method, a log, a theta)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"config": {}, "world_size": 1}))
    (folder / "log.csv").write_text("step,query_loss\n1,0.5\n")
    (folder / "theta.pt").write_bytes(b"theta")
    return folder


def test_johnson_refuses_a_run_dir_that_holds_a_run(tmp_path, capsys):
    run = _meta_run(tmp_path / "meta")
    style, contents = _photo(tmp_path / "style.png"), tmp_path / "c"
    _photo(contents / "a.png", 1)
    base = ["johnson", style, "-o", tmp_path / "m.pt", "--contents", contents, *SMOKE, "--steps", "1"]
    for extra in ([], ["--overwrite"]):  # a meta-training run: never replaced by a Johnson run
        fails([*base, "--run-dir", run, *extra], capsys, tmp_path, "holds a meta run, not a johnson run")
    _photo(tmp_path / "m.run" / "x.png")  # a stale default run folder OUT.run, of a Johnson run
    (tmp_path / "m.run" / "config.json").write_text(json.dumps({"method": "johnson"}))
    (tmp_path / "m.run" / "log.csv").write_text("step,loss\n1,0.5\n")
    fails(base, capsys, tmp_path, f"{tmp_path / 'm.run'} already holds a run")


def test_train_plain_refuses_an_existing_run_without_overwrite(tmp_path, capsys):
    run = _meta_run(tmp_path / "meta")
    for extra in ([], ["--overwrite"]):
        fails(["train-plain", *SMOKE, "--out", run, *extra], capsys, tmp_path, "holds a meta run, not a plain run")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps({"method": "plain"}))
    fails(["train-plain", *SMOKE, "--out", plain], capsys, tmp_path, "already holds a run")
    fails(["train-plain", *SMOKE, "--out", run, "--overwrite", "--resume"], capsys, tmp_path, "contradict")


def test_bench_refuses_to_replace_its_json_and_unknown_skip_names(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "run", lambda args: pytest.fail("bench started timing"))
    slug = bench.device_info(runtime.resolve_device("cpu"))["slug"]
    (tmp_path / f"{slug}.json").write_text("{}")
    fails(["bench", "--device", "cpu", "--out", tmp_path], capsys, tmp_path, "already exists; pass --overwrite")
    fails(["bench", "--device", "cpu", "--out", tmp_path / f"{slug}.json"], capsys, tmp_path,
          "is a file, not a folder")
    fails(["bench", "--device", "cpu", "--out", tmp_path / "new", "--skip", "meta,timing"], capsys, tmp_path,
          "--skip: unknown section(s) timing")


def test_data_export_refuses_existing_files_without_overwrite(tmp_path, capsys):
    _ok(["data", "embedded", "--export", tmp_path / "x"])
    fails(["data", "embedded", "--export", tmp_path / "x"], capsys, tmp_path, "already exists")
    _ok(["data", "embedded", "--export", tmp_path / "x", "--overwrite"])
    (tmp_path / "file").write_text("x")
    fails(["data", "embedded", "--export", tmp_path / "file"], capsys, tmp_path, "is a file, not a folder")


@pytest.fixture
def ws(tmp_path) -> Path:
    _photo(tmp_path / "content.png")
    _photo(tmp_path / "style.png", 1)
    _model(tmp_path / "theta.pt")
    _video(tmp_path / "in.mp4")
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["adapt", "{ws}/style.png", "--theta", "{ws}/theta.pt", "-o", "{ws}/theta.pt"],
    ["adapt", "{ws}/style.png", "--theta", "{ws}/theta.pt", "-o", "{ws}/style.png"],
    ["gatys", "{ws}/content.png", "{ws}/style.png", "-o", "{ws}/content.png"],
    ["gatys", "{ws}/content.png", "{ws}/style.png", "-o", "{ws}/out.png", "--init", "{ws}/out.json"],
    ["johnson", "{ws}/style.png", "--init", "{ws}/theta.pt", "-o", "{ws}/theta.pt"],
    ["arbitrary-stylize", "adain", "{ws}/content.png", "{ws}/style.png", "--weights", "{ws}/theta.pt",
     "-o", "{ws}/content.png"],
    ["stylize-video", "{ws}/in.mp4", "{ws}/in.mp4", "--model", "{ws}/theta.pt"],
    ["stylize-video", "{ws}/in.mp4", "{ws}/theta.mp4", "--model", "{ws}/theta.mp4"],
], ids=["adapt-theta", "adapt-style", "gatys-content", "gatys-record-init", "johnson-init", "arbitrary-content",
        "video-input", "video-model"])
def test_overwrite_never_destroys_the_command_s_own_input(ws, capsys, argv):
    argv = [a.format(ws=ws) for a in argv]
    if "{ws}/theta.mp4".format(ws=ws) in argv:
        shutil.copy(ws / "theta.pt", ws / "theta.mp4")
    if "{ws}/out.json".format(ws=ws) in argv:  # an image named like gatys' record, given as its --init
        Image.open(ws / "content.png").save(ws / "out.json", format="PNG")
    fails([*argv, "--overwrite"], capsys, ws, "the command's own input")


def test_gatys_refuses_an_output_named_like_its_record(ws, capsys):
    fails(["gatys", ws / "content.png", ws / "style.png", "-o", ws / "out.json"], capsys, ws, "are the same file")


def test_an_image_and_its_record_land_together(ws, capsys, monkeypatch):
    from metastyle.app import baselines_cli

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(baselines_cli.json, "dumps", full)
    argv = ["gatys", ws / "content.png", ws / "style.png", "-o", ws / "out.png", "--profile", "smoke",
            "--size", "16", "--iterations", "1", "--no-progress", "--device", "cpu"]
    fails(argv, capsys, ws, "No space left on device")
    assert not (ws / "out.png").exists() and not (ws / "out.json").exists()
    monkeypatch.undo()
    _ok(argv)  # and a rerun is not refused
    assert (ws / "out.png").is_file() and (ws / "out.json").is_file()


def test_a_run_folder_or_cache_that_is_a_file_is_named_as_such(tmp_path, capsys, monkeypatch):
    (tmp_path / "f").write_text("x")
    fails(["train", *SMOKE, "--out", tmp_path / "f"], capsys, tmp_path, f"{tmp_path / 'f'} is a file, not a folder")
    fails(["train", *SMOKE, "--out", tmp_path / "f" / "run"], capsys, tmp_path, "is a file, not a folder")
    from metastyle.method import caffe_vgg

    monkeypatch.setenv("METASTYLE_CACHE", str(tmp_path / "f"))
    with pytest.raises(MetaStyleError, match="is a file, not a folder"):
        caffe_vgg.features_state()


# ============================================================================ no value unchecked
@pytest.mark.parametrize("device, says", [
    ("meta", "cannot run metastyle"), ("cuda:99", "requested but"), ("mps", "requested but"),
])
def test_devices_this_torch_cannot_use_are_refused_before_work(tmp_path, capsys, device, says):
    if device == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    _photo(tmp_path / "a.png")
    _model(tmp_path / "m.pt")
    fails(["stylize", tmp_path / "a.png", "--model", tmp_path / "m.pt", "-o", tmp_path / "o", "--mkdir", "--device",
           device], capsys, tmp_path, says)
    fails(["train", *SMOKE, "--out", tmp_path / "run", "--device", device], capsys, tmp_path, "")
    assert not (tmp_path / "run").exists() and not (tmp_path / "o").exists()
    with pytest.raises(MetaStyleError, match=says):
        runtime.resolve_device(device)


@pytest.mark.parametrize("argv, says", [
    (["train", *SMOKE, "--data.content_size", "100000"], "data.content_size: must be <= 8,192"),
    (["train", *SMOKE, "--meta.batch", "1000000"], "meta.batch: must be <= 1,024"),
    (["train", *SMOKE, "--data.n_styles", "1000000"], "data.n_styles: must be <= 4,096"),
    (["train", *SMOKE, "--run.seed", "-1"], "run.seed: must be >= 0"),
    (["train", *SMOKE, "--run.seed", str(2**63)], "run.seed: must be <= 9,223,372,036,854,775,807"),
    (["gatys", "c.png", "s.png", "-o", "o.png", "--size", "100000"], "--size must be between 16 and 8,192"),
    (["johnson", "s.png", "-o", "m.pt", "--steps", str(10**12)], "--steps must be between 1 and 1,000,000,000"),
    (["stylize-video", "in.mp4", "out.mp4", "--model", "m.pt", "--batch", "1000000"], "--batch must be between"),
    (["arbitrary-train", "adain", "-o", "w.pt", "--seed", "-3"], "--seed must be between 0 and"),
])
def test_values_have_upper_bounds_checked_before_any_work(tmp_path, capsys, argv, says):
    fails([a if not a.endswith((".png", ".pt", ".mp4")) else tmp_path / a for a in argv] +
          (["--out", tmp_path / "run"] if argv[0] == "train" else []), capsys, tmp_path, says)
    assert not (tmp_path / "run").exists()


def test_settings_that_cannot_fit_in_memory_are_refused_before_allocating(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runtime, "available_memory", lambda device: 1 << 20)
    fails(["train", *SMOKE, "--out", tmp_path / "run"], capsys, None, "needs at least")
    assert not (tmp_path / "run").exists()


def test_stylize_refuses_a_photo_too_large_for_memory_naming_the_largest_side(ws, capsys, monkeypatch):
    from metastyle.method.context import INFER_BYTES_PER_PIXEL

    _photo(ws / "big" / "photo.png", size=(400, 300))
    monkeypatch.setattr(runtime, "available_memory", lambda device: 100 * 80 * INFER_BYTES_PER_PIXEL)
    line = fails(["stylize", ws / "big" / "photo.png", "--model", ws / "theta.pt", "-o", ws / "out", "--mkdir"],
                 capsys, ws, "needs at least")
    side = int(line.split("--max-side ")[1].split()[0])
    assert 16 <= side <= 400
    _ok(["stylize", ws / "big" / "photo.png", "--model", ws / "theta.pt", "-o", ws / "out", "--mkdir",
         "--max-side", side])


# ============================================================================ resume checks everything
@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    """Finished smoke runs of meta-training (4 iterations), plain training and Johnson (4 steps)."""
    root = tmp_path_factory.mktemp("finished")
    _photo(root / "style.png", 3)
    for i in range(3):
        _photo(root / "contents" / f"{i}.png", 10 + i)
    _ok(["train", *SMOKE, "--out", root / "meta"])
    _ok(["train-plain", *SMOKE, "--out", root / "plain"])
    _ok(["johnson", root / "style.png", "-o", root / "j.pt", "--run-dir", root / "johnson", "--contents",
         root / "contents", *SMOKE, "--steps", "4", "--ckpt-every", "2"])
    return {"root": root, "meta": root / "meta", "plain": root / "plain", "johnson": root / "johnson"}


def _resume_argv(kind: str, run: Path, root: Path) -> list:
    if kind == "johnson":
        return ["johnson", root / "style.png", "-o", run.parent / "j.pt", "--run-dir", run, "--contents",
                root / "contents", *SMOKE, "--steps", "4", "--ckpt-every", "2", "--resume"]
    return [{"meta": "train", "plain": "train-plain"}[kind], *SMOKE, "--out", run, "--resume"]


def _damage(state: dict, how: str) -> dict:
    opt = state["optimizer"]
    first = next(iter(opt["state"]))
    if how == "adam-nan":
        opt["state"][first]["exp_avg"][...] = float("nan")
    elif how == "adam-negative":
        opt["state"][first]["exp_avg_sq"][...] = -1.0
    elif how == "adam-lr":
        opt["param_groups"][0]["lr"] = "fast"
    elif how == "adam-betas":
        opt["param_groups"][0]["betas"] = (0.5, 2.0)
    elif how == "adam-params":
        opt["param_groups"][0]["params"] = [10**6]
    elif how == "adam-sparse":
        opt["state"][first]["exp_avg"] = opt["state"][first]["exp_avg"].to_sparse()
    elif how == "no-rng":
        state.pop("rng")
    elif how == "rng-garbage":
        state["rng"] = {"python": 3}
    elif how == "model-shape":
        state["model"]["conv1.conv.weight"] = torch.zeros(3)
    elif how == "nan-weights":
        state["model"]["conv1.conv.weight"][0] = float("nan")
    elif how == "huge-step":
        state["step"] = 10**15
    elif how == "loss-net":
        state["loss_net"] = {**state["loss_net"], "name": "vgg16", "checksum": "0" * 64, "feature_scale": 1.0}
    return state


DAMAGE = {
    "adam-nan": "Adam exp_avg of parameter 0 is not finite",
    "adam-negative": "Adam exp_avg_sq of parameter 0 is negative",
    "adam-lr": "Adam lr 'fast' is not a finite positive number", "adam-betas": "Adam setting betas is (0.5, 2.0)",
    "adam-params": "Adam setting params", "adam-sparse": "is not a real floating-point tensor",
    "no-rng": "is damaged: no rng entry", "rng-garbage": "cannot restore its optimiser or RNG state",
    "model-shape": "size mismatch for conv1.conv.weight", "nan-weights": "non-finite (NaN or inf) weights",
    "huge-step": "is at step 1000000000000000, past", "loss-net": "the loss network differs from the checkpoint's",
}


@pytest.mark.parametrize("kind", ["meta", "plain", "johnson"])
@pytest.mark.parametrize("how", list(DAMAGE))
def test_every_loop_s_resume_checks_everything_that_defines_the_run(finished, tmp_path, capsys, kind, how):
    run = Path(shutil.copytree(finished[kind], tmp_path / kind))
    state = checkpoint.load(run / "train_state.pt")
    checkpoint.save(_damage(state, how), run / "train_state.pt")
    line = fails(_resume_argv(kind, run, finished["root"]), capsys, tmp_path, DAMAGE[how])
    assert "diverged" not in line and "learning rate" not in line


@pytest.mark.parametrize("kind", ["plain", "johnson"])
def test_plain_and_johnson_resume_refuse_a_changed_config_and_a_broken_log(finished, tmp_path, capsys, kind):
    run = Path(shutil.copytree(finished[kind], tmp_path / kind))
    fails([*_resume_argv(kind, run, finished["root"]), "--run.seed", "7"], capsys, tmp_path,
          "run.seed (12345 -> 7)")
    rows = (run / "log.csv").read_text().splitlines()
    (run / "log.csv").write_text(rows[0] + "\n")
    fails(_resume_argv(kind, run, finished["root"]), capsys, tmp_path, "lacks 4 row(s) before the checkpoint")


def test_johnson_resume_refuses_a_state_without_its_init(finished, tmp_path, capsys):
    run = Path(shutil.copytree(finished["johnson"], tmp_path / "johnson"))
    state = checkpoint.load(run / "train_state.pt")
    state.pop("init")
    checkpoint.save(state, run / "train_state.pt")
    fails(_resume_argv("johnson", run, finished["root"]), capsys, tmp_path, "is damaged: it records no init")


def test_resume_refuses_a_log_that_is_not_utf8(finished, tmp_path, capsys):
    run = Path(shutil.copytree(finished["meta"], tmp_path / "meta"))
    (run / "log.csv").write_bytes((run / "log.csv").read_bytes() + b"\xff\xfe\x00garbage\n")
    fails(_resume_argv("meta", run, finished["root"]), capsys, tmp_path, "is not a text log")


@pytest.mark.parametrize("kind", ["plain", "meta"])
def test_a_resume_refuses_a_linked_snapshot_folder_and_never_writes_through_it(finished, tmp_path, capsys, kind):
    """The one resume policy (``infra.train.Run.resume``) checks the whole run folder, as a new run's claim
    does: before, ``train-plain --resume`` (and ``train --resume``) wrote the next snapshot through the link."""
    run = Path(shutil.copytree(finished[kind], tmp_path / kind))
    elsewhere = tmp_path / "elsewhere"
    (run / "snapshots").rename(elsewhere)
    (run / "snapshots").symlink_to(elsewhere, target_is_directory=True)
    fails([*_resume_argv(kind, run, finished["root"]), "--meta.iterations", "5"], capsys, tmp_path,
          f"{run / 'snapshots'} is a symbolic link")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["000000.pt", "000004.pt"]


@pytest.mark.parametrize("kind, other", [("meta", "plain"), ("plain", "meta"), ("plain", "johnson")])
def test_a_resume_refuses_a_run_of_another_kind_naming_both(finished, tmp_path, capsys, kind, other):
    """A run folder's kind (its config.json) is checked on ``--resume`` as on a new run: before, a plain run
    resumed by ``train --resume`` was refused for its log's columns, not for what it is."""
    run = Path(shutil.copytree(finished[kind], tmp_path / f"{kind}-run"))
    fails(_resume_argv(other, run, finished["root"]), capsys, tmp_path, f"holds a {kind} run, not a {other} run")


def test_a_finished_run_resumes_to_the_same_result(finished, tmp_path):
    """The checks above refuse nothing an intact run holds."""
    for kind in ("meta", "plain", "johnson"):
        run = Path(shutil.copytree(finished[kind], tmp_path / kind))
        _ok(_resume_argv(kind, run, finished["root"]))


# ============================================================================ nothing left behind
def test_identical_runs_write_byte_identical_checkpoints(finished, tmp_path):
    rec = checkpoint.model_record(TransformerNet())
    assert checkpoint.save(rec, tmp_path / "a.pt").read_bytes() == checkpoint.save(rec, tmp_path / "b.pt").read_bytes()
    _ok(["train", *SMOKE, "--out", tmp_path / "again"])
    assert (tmp_path / "again" / "theta.pt").read_bytes() == (finished["meta"] / "theta.pt").read_bytes()


def test_a_killed_video_writer_s_temporaries_are_removed_by_the_next_write(tmp_path):
    dead = 2**22 + 12345  # above pid_max on most systems: never a live process
    left = [tmp_path / f".out.mp4.pid{dead}.abcd.mp4", tmp_path / f".out.mp4.pid{dead}.abcd.video.mp4"]
    for p in left:
        p.write_bytes(b"partial")
    _video(tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_atomic_paths_write_all_or_nothing(tmp_path):
    (tmp_path / "a.png").write_bytes(b"old")
    with pytest.raises(MetaStyleError, match="No space left"):
        with files.atomic_paths(tmp_path / "a.png", tmp_path / "a.json") as (a, b):
            a.write_bytes(b"new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert (tmp_path / "a.png").read_bytes() == b"old" and not (tmp_path / "a.json").exists()
    no_leftovers(tmp_path)


# ============================================================================ one true line per error
def test_float_tiff_negatives_are_scaled_not_black_and_nan_is_refused(tmp_path):
    ramp = np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    Image.fromarray(ramp, "F").save(tmp_path / "ramp.tif")
    arr = np.asarray(images.load_image(tmp_path / "ramp.tif"))
    assert arr.min() == 0 and arr.max() == 255
    ramp[3, 4] = np.nan
    Image.fromarray(ramp, "F").save(tmp_path / "nan.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetaStyleError, match=r"nan.tif: 1 of its 3072 pixels are NaN or infinite"):
            images.load_image(tmp_path / "nan.tif")


def test_data_examples_without_network_is_one_line(tmp_path, capsys, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError(OSError(errno.ENETUNREACH, "Network is unreachable"))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    fails(["data", "examples", "--data-dir", tmp_path], capsys, None, "could not download")
    assert not list(tmp_path.rglob("*.part"))
    with pytest.raises(sources.DownloadError):
        sources.download_examples(tmp_path / "ex")


def test_an_audio_only_input_is_named_as_such(tmp_path, capsys):
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.3", "-c:a", "aac",
                    str(tmp_path / "song.mp4")], check=True)
    _model(tmp_path / "m.pt")
    fails(["stylize-video", tmp_path / "song.mp4", tmp_path / "out.mp4", "--model", tmp_path / "m.pt"], capsys,
          tmp_path, "has no video stream (only Audio streams)")


def test_a_rotated_video_prints_no_library_line(tmp_path, capfd):
    import subprocess

    import imageio_ffmpeg

    _video(tmp_path / "in.mp4", size=(48, 32))
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-display_rotation", "90", "-i",
                    str(tmp_path / "in.mp4"), "-c", "copy", str(tmp_path / "rot.mp4")], check=True)
    _model(tmp_path / "m.pt")
    capfd.readouterr()
    _ok(["stylize-video", tmp_path / "rot.mp4", tmp_path / "out.mp4", "--model", tmp_path / "m.pt", "--no-progress",
         "--device", "cpu"])
    err = capfd.readouterr().err
    assert "frame size" not in err, err
    assert video_io.probe(tmp_path / "out.mp4")["size"] == (32, 48)  # decoded upright


def test_file_names_beginning_with_a_dash_need_no_double_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path / "-photo.png")
    _model(tmp_path / "-model.pt")
    _ok(["stylize", "-photo.png", "--model", "-model.pt", "-o", "out", "--mkdir", "--device", "cpu"])
    assert (tmp_path / "out" / "-photo.png").is_file()


def test_reproduce_refuses_an_unknown_profile_before_a_kernel_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reproduce, "run_notebook", lambda *a, **k: pytest.fail("a notebook was started"))
    assert reproduce.main(["--profile", "bogus", "--results", str(tmp_path)]) == 2
    assert "unknown profile 'bogus'" in capsys.readouterr().err


def test_the_wikiart_recipe_says_what_the_loader_does():
    text = sources.describe("wikiart")
    assert "skips" in text and "opens them anyway" not in text


def test_config_bounds_are_listed_for_every_count_and_size():
    for key in (*config.IMAGE_SIZES, "meta.batch", "adapt.batch", "meta.meta_batch", "data.n_styles", "run.seed"):
        assert key in config.MAXIMA


def test_snapshot_is_unchanged_by_reads(tmp_path):
    """``fails`` compares snapshots: reading a folder leaves it unchanged."""
    (tmp_path / "f").write_bytes(b"1")
    assert snapshot(tmp_path) == snapshot(tmp_path)
