"""One line for every bad input: values nobody validated, full disks, damaged or hostile files, ffmpeg failures,
and the file-mode / stale-temporary / video guarantees of docs/reliability.md.

CLI cases go through ``cli.main`` in-process with ``fails`` (exit 2, exactly one ``metastyle: error:`` line,
files present before unchanged, no ``*.tmp`` left).
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_reliability import fails, no_leftovers  # noqa: E402

from metastyle.app import cli
from metastyle.data import video_io
from metastyle.errors import DataWarning, MetaStyleError  # noqa: E402
from metastyle.infra import checkpoint  # noqa: E402
from metastyle.method import video
from metastyle.method.nets import TransformerNet  # noqa: E402


@pytest.fixture
def ws(tmp_path):
    torch.manual_seed(0)
    checkpoint.save(checkpoint.model_record(TransformerNet()), tmp_path / "model.pt")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 20, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (24, 20, 3), np.uint8)).save(tmp_path / "b.png")
    (tmp_path / "out").mkdir()
    return tmp_path


def _clip(path: Path, frames: int = 12, size=(48, 32), faststart: bool = False) -> Path:
    arr = [np.random.default_rng(i).integers(0, 255, (size[1], size[0], 3), np.uint8) for i in range(frames)]
    video_io.write_video(arr, path, fps=12)
    if faststart:  # index first, so a truncated copy still opens (a download cut short)
        tmp = path.with_name("fs_" + path.name)
        subprocess.run([video_io._ffmpeg().get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(path), "-c", "copy",
                        "-movflags", "+faststart", str(tmp)], check=True)
        os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------- values validated
def _bad_values(ws):
    m, a, s, o = ws / "model.pt", ws / "a.png", ws / "b.png", ws / "out"
    return {
        "stylize-device": (["stylize", a, "--model", m, "-o", o, "--device", "bogus"], "unknown device 'bogus'"),
        "video-device": (["stylize-video", "IN", o / "v.mp4", "--model", m, "--device", "bogus"],
                         "unknown device 'bogus'"),
        "adapt-device": (["adapt", s, "--theta", m, "-o", o / "m.pt", "--profile", "smoke", "--device", "bogus"],
                         "config key run.device: must be auto, cpu, cuda or cuda:N"),
        "train-size": (["train", "--profile", "smoke", "--data.style_size", "4", "--out", ws / "run"],
                       "config key data.style_size: must be >= 16 px"),
        "adapt-size": (["adapt", s, "--theta", m, "-o", o / "m.pt", "--profile", "smoke", "--adapt.style_size", "4"],
                       "config key adapt.style_size: must be >= 16 px"),
        "gatys-size": (["gatys", a, s, "-o", o / "g.png", "--profile", "smoke", "--size", "4"], "--size must be >= 16"),
        "stylize-max-side": (["stylize", a, "--model", m, "-o", o, "--max-side", "-5"],
                             "--max-side must be 0 (keep the size) or >= 16"),
        "video-max-side": (["stylize-video", "IN", o / "v.mp4", "--model", m, "--max-side", "-5"],
                           "--max-side must be 0 (keep the size) or >= 16"),
        "gatys-iterations": (["gatys", a, s, "-o", o / "g.png", "--profile", "smoke", "--iterations", "-3"],
                             "--iterations must be >= 1"),
        "gatys-lr": (["gatys", a, s, "-o", o / "g.png", "--profile", "smoke", "--lr", "nan"],
                     "--lr must be a finite number > 0"),
        "alpha-5": (["arbitrary-stylize", "adain", a, s, "--weights", m, "-o", o / "x.png", "--alpha", "5"],
                    "--alpha must be in [0, 1]"),
        "alpha-nan": (["arbitrary-stylize", "adain", a, s, "--weights", m, "-o", o / "x.png", "--alpha", "nan"],
                      "--alpha must be in [0, 1]"),
        "johnson-steps": (["johnson", s, "-o", o / "j.pt", "--profile", "smoke", "--steps", "-2"],
                          "--steps must be >= 1"),
    }


@pytest.mark.parametrize("case", list(_bad_values(Path("."))))
def test_bad_values_are_refused_in_one_line_before_anything_is_written(ws, capsys, case):
    argv, message = _bad_values(ws)[case]
    argv = [str(_clip(ws / "in.mp4")) if a == "IN" else a for a in argv]
    fails(argv, capsys, ws, message)
    assert not (ws / "run").exists()


def test_good_values_pass_the_same_checks(ws, capsys):
    """The other side of each rule: a valid device and --max-side are accepted."""
    assert cli.main([str(a) for a in ["stylize", ws / "a.png", "--model", ws / "model.pt", "-o", ws / "out",
                                      "--device", "cpu", "--max-side", "20"]]) == 0
    assert max(Image.open(ws / "out" / "a.png").size) == 20


# ------------------------------------------------------------------------------------------ full disk
def _torch_save_fails(monkeypatch, message: str, free: int):
    def fail(obj, f, *a, **k):
        f.write(b"PK\x03\x04partial") if hasattr(f, "write") else Path(f).write_bytes(b"PK\x03\x04partial")
        raise RuntimeError(message)
    monkeypatch.setattr(checkpoint.torch, "save", fail)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: type("U", (), {"free": free})())


def test_disk_full_during_a_checkpoint_write_is_one_line(tmp_path, capsys, monkeypatch):
    _torch_save_fails(monkeypatch, "[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0", 0)
    line = fails(["train", "--profile", "smoke", "--no-progress", "--meta.iterations", "2", "--out",
                  tmp_path / "run"], capsys, None, "No space left on device")
    assert f"cannot write {tmp_path / 'run' / 'snapshots' / '000000.pt'}" in line  # the first write: θ at 0
    no_leftovers(tmp_path)


def test_other_checkpoint_write_failures_keep_torch_s_reason(tmp_path, monkeypatch):
    _torch_save_fails(monkeypatch, "[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0", 10**12)
    with pytest.raises(MetaStyleError, match=r"cannot write .*: unexpected pos 64 vs 0$"):
        checkpoint.save({"kind": "metastyle-model"}, tmp_path / "x.pt")


# ------------------------------------------------------------------------------------- damaged files
def test_nan_weights_in_a_model_are_refused(ws, capsys):
    sd = TransformerNet().state_dict()
    sd["conv1.conv.weight"][0, 0, 0, 0] = float("nan")
    checkpoint.save(checkpoint.model_record(TransformerNet()) | {"model": sd}, ws / "nan.pt")
    fails(["stylize", ws / "a.png", "--model", ws / "nan.pt", "-o", ws / "out"], capsys, ws,
          "non-finite (NaN or inf) weights in 1 tensor(s), first conv1.conv.weight")


def test_model_that_is_not_a_checkpoint_file_is_named_for_what_it_is(ws, capsys):
    (ws / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    os.mkfifo(ws / "fifo.pt")
    cases = {ws / "random.pt": "cannot read checkpoint", ws / "out": "is a folder, not a file",
             ws / "fifo.pt": "is not a regular file", "/dev/zero": "is not a regular file"}
    for model, message in cases.items():
        line = fails(["stylize", ws / "a.png", "--model", model, "-o", ws / "out"], capsys, None, message)
        assert "weights_only" not in line


def test_wrong_shape_message_names_the_tensor(ws, capsys):
    sd = TransformerNet().state_dict()
    sd["conv1.conv.weight"] = torch.zeros(3)
    checkpoint.save(checkpoint.model_record(TransformerNet()) | {"model": sd}, ws / "shape.pt")
    line = fails(["stylize", ws / "a.png", "--model", ws / "shape.pt", "-o", ws / "out"], capsys, ws,
                 "size mismatch for conv1.conv.weight")
    assert not line.endswith(":")


@pytest.mark.parametrize("record, message", [
    ({"loss_net": {"name": "vgg19-random", "source": "random-init seed=abc"}, "model": {}},
     "records a damaged encoder source"),
    ({"loss_net": {"name": "vgg19-random", "source": "random-init seed=0"}, "model": "a string"},
     "does not hold a adain state dict"),
])
def test_crafted_arbitrary_weights_are_one_line(ws, capsys, record, message):
    checkpoint.save({"kind": "metastyle-model", "arch": "adain", **record}, ws / "w.pt")
    fails(["arbitrary-stylize", "adain", ws / "a.png", ws / "b.png", "--weights", ws / "w.pt", "-o",
           ws / "out" / "x.png"], capsys, ws, message)


def test_stylize_output_that_is_a_file_is_named_as_such(ws, capsys):
    fails(["stylize", ws / "a.png", "--model", ws / "model.pt", "-o", ws / "b.png"], capsys, ws,
          "is a file; stylize writes into a folder")


def test_adapt_refuses_a_folder_as_its_style(ws, capsys):
    fails(["adapt", ws, "--theta", ws / "model.pt", "-o", ws / "out" / "m.pt", "--profile", "smoke"], capsys, ws,
          "the style must be one image file, got a folder")


def test_adapt_checks_its_output_before_adapting(ws, capsys, monkeypatch):
    import metastyle.method.adapt

    monkeypatch.setattr(metastyle.method.adapt, "adapt", lambda *a, **k: pytest.fail("adapted before checking -o"))
    (ws / "out" / "m.pt").write_bytes(b"an earlier model")
    fails(["adapt", ws / "a.png", "--theta", ws / "model.pt", "-o", ws / "out" / "m.pt", "--profile", "smoke"],
          capsys, ws, "already exists; pass --overwrite")

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", denied)
    fails(["adapt", ws / "a.png", "--theta", ws / "model.pt", "-o", ws / "out" / "n.pt", "--profile", "smoke"],
          capsys, ws, "cannot write to")


# ------------------------------------------------------------------------------------- atomic files
def test_atomic_files_get_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        checkpoint.save({"kind": "metastyle-model"}, tmp_path / "a.pt")
        os.umask(0o077)
        checkpoint.save({"kind": "metastyle-model"}, tmp_path / "b.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.pt").stat().st_mode & 0o777 == 0o600


def test_a_killed_writer_s_temporary_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".theta.pt.pid{dead.pid}.abc123.tmp"
    live = tmp_path / f".theta.pt.pid{os.getppid()}.abc123.tmp"  # a running process's: left alone
    stale.write_bytes(b"half")
    live.write_bytes(b"in progress")
    checkpoint.save({"kind": "metastyle-model"}, tmp_path / "theta.pt")
    assert not stale.exists() and live.exists()


# --------------------------------------------------------------------------------------------- video
def test_truncated_video_says_what_was_decoded(ws, capsys):
    _clip(ws / "full.mp4", 60, faststart=True)
    data = (ws / "full.mp4").read_bytes()
    (ws / "cut.mp4").write_bytes(data[: len(data) // 2])
    (ws / "out" / "v.mp4").write_bytes(b"a good earlier output")
    fails(["stylize-video", ws / "cut.mp4", ws / "out" / "v.mp4", "--model", ws / "model.pt", "--no-progress"],
          capsys, ws, "already exists; pass --overwrite")
    assert cli.main([str(a) for a in ["stylize-video", ws / "cut.mp4", ws / "out" / "v.mp4", "--model",
                                      ws / "model.pt", "--no-progress", "--overwrite"]]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    n = sum(1 for _ in video_io.read_frames(ws / "out" / "v.mp4"))
    assert 0 < n < 59
    assert err == [f"metastyle: warning: {ws / 'cut.mp4'}: decoded only {n} of the 60 frames its header declares "
                   f"(truncated or damaged?); {ws / 'out' / 'v.mp4'} has {n} frames"]


def test_complete_video_gives_no_truncation_warning(ws, capsys):
    _clip(ws / "full.mp4", 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        video.stylize_video(ws / "full.mp4", ws / "out" / "v.mp4", ws / "model.pt", progress=False)
    assert sum(1 for _ in video_io.read_frames(ws / "out" / "v.mp4")) == 12


def test_video_metrics_compares_at_the_output_s_size(ws, capsys):
    _clip(ws / "in.mp4", 4, size=(64, 36))
    assert cli.main([str(a) for a in ["stylize-video", ws / "in.mp4", ws / "out" / "s.mp4", "--model",
                                      ws / "model.pt", "--no-progress", "--max-side", "32"]]) == 0
    capsys.readouterr()
    assert cli.main([str(a) for a in ["video-metrics", ws / "in.mp4", ws / "out" / "s.mp4", "--json"]]) == 0
    out, err = capsys.readouterr()
    assert "warp_error" in out or "{" in out
    assert err.strip() == "metastyle: warning: input frames of 64x36 px resized to the output's 32x18 px for comparison"
    _clip(ws / "square.mp4", 4, size=(32, 32))
    fails(["video-metrics", ws / "in.mp4", ws / "square.mp4"], capsys, None, "differ in aspect ratio")


def test_stylize_video_refuses_an_output_that_is_not_a_video_file(ws, capsys):
    fails(["stylize-video", _clip(ws / "in.mp4", 2), ws / "out" / "v.txt", "--model", ws / "model.pt"], capsys,
          ws, "the output must be a video file (.mp4, .m4v, .mov, .mkv)")


def test_ffmpeg_failures_are_one_line_naming_the_user_s_output(ws, capfd):
    capfd.readouterr()
    frames = [np.zeros((16, 16, 3), np.uint8)] * 2
    with pytest.raises(MetaStyleError) as err:
        video_io.write_video(frames, ws / "out" / "v.txt", shown_as=ws / "out" / "asked.txt")
    assert str(err.value).startswith(f"cannot write video {ws / 'out' / 'asked.txt'}: ")
    assert "\n" not in str(err.value) and ".tmp" not in str(err.value)
    assert capfd.readouterr().err == ""  # ffmpeg's own lines were captured, not printed
    no_leftovers(ws)
