"""Bad input through the CLI and the API: one clear line on stderr, exit code 2, nothing lost or half-written.

Every CLI case goes through ``cli.main`` (in-process, stderr captured) or ``python -m metastyle``; each checks
a distinctive part of its message, that stderr is exactly one line, that files present before are unchanged
and that no ``*.tmp`` is left behind. Tests run as root, for whom ``chmod`` does not make a folder read-only,
so "unwritable" is simulated by a path below a regular file and by a ``mkstemp`` that raises EACCES.
"""
from __future__ import annotations

import errno
import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import run as run_subprocess  # noqa: E402

from metastyle import config
from metastyle.app import cli
from metastyle.data import images, sets
from metastyle.errors import CheckpointError, DataError, DataWarning  # noqa: E402
from metastyle.infra import checkpoint  # noqa: E402
from metastyle.method import nets
from metastyle.method.nets import TransformerNet  # noqa: E402


# ----------------------------------------------------------------------------------------------- fixtures
def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def no_leftovers(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def ws(tmp_path):
    """A workspace with a model, a good photo and a pre-existing output file."""
    torch.manual_seed(0)
    checkpoint.save(checkpoint.model_record(TransformerNet()), tmp_path / "model.pt")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 20, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.png").write_bytes(b"precious")
    return tmp_path


def fails(argv, capsys, ws: Path | None = None, contains: str = "") -> str:
    """Run the CLI expecting exit 2 and one ``metastyle: error:`` line containing ``contains``."""
    before = snapshot(ws) if ws else None
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("metastyle: error: "), err
    assert contains in lines[0], lines[0]
    if ws is not None:
        assert snapshot(ws) == before  # nothing changed, nothing half-written
        no_leftovers(ws)
    return lines[0]


def stylize(ws, *inputs, extra=()):
    return ["stylize", *inputs, "--model", ws / "model.pt", "-o", ws / "out", "--device", "cpu", *extra]


def truncated_jpeg() -> bytes:
    """A noisy 64x64 JPEG cut in the middle of its scan data (headers intact, so it opens but cannot load)."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


# ------------------------------------------------------------------------------------- missing / empty
def test_missing_input_file(ws, capsys):
    fails(stylize(ws, ws / "nope.jpg"), capsys, ws, "no such file or folder")


def test_folder_without_images(ws, capsys):
    (ws / "empty").mkdir()
    (ws / "empty" / "notes.txt").write_text("not an image")
    fails(stylize(ws, ws / "empty"), capsys, ws, "no images (.jpg")


def test_missing_model(ws, capsys):
    fails(["stylize", ws / "a.png", "--model", ws / "none.pt", "-o", ws / "out"], capsys, ws, "no such checkpoint")


# ------------------------------------------------------------------------------- corrupt single images
def test_corrupt_jpeg_single_image(ws, capsys):
    (ws / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all" * 10)
    fails(stylize(ws, ws / "broken.jpg"), capsys, ws, "cannot read image")


def test_truncated_jpeg_single_image(ws, capsys):
    (ws / "trunc.jpg").write_bytes(truncated_jpeg())
    line = fails(stylize(ws, ws / "trunc.jpg"), capsys, ws, "cannot read image")
    assert "trunc" in line


# -------------------------------------------------------------- datasets: skip unreadable with a count
def _dataset(folder: Path) -> Path:
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (60 * i, 20, 90)).save(folder / f"good{i}.png")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    (folder / "broken.jpg").write_bytes(b"garbage bytes, not a JPEG")
    (folder / "trunc.jpg").write_bytes(truncated_jpeg())
    return folder


def test_dataset_skips_unreadable_images_with_count(tmp_path):
    folder = _dataset(tmp_path / "photos")
    with pytest.warns(DataWarning, match=r"skipped 1 unreadable image\(s\) in .*photos: broken.jpg"):
        items = sets.source_items(str(folder), "content")  # header check: garbage skipped, notes.txt ignored
    assert sorted(i.name for i in items) == ["good0", "good1", "good2", "trunc"]
    with pytest.warns(DataWarning, match=r"skipped 1 unreadable image\(s\) in an image set: trunc"):
        s = sets.content_set(items, 16)  # full decode: the truncated JPEG goes too
    assert s.names() == ["good0", "good1", "good2"] and s.skipped == ["trunc"]
    assert s.all().shape == (3, 3, 16, 16)


def test_uncached_set_replaces_unreadable_item(tmp_path):
    folder = _dataset(tmp_path / "photos")
    items = [sets.Item(p.stem, p) for p in sorted(folder.glob("*.*g"))]  # broken, good0..2, trunc
    s = sets.ImageSet(items, 16, cache=False)
    with pytest.warns(DataWarning, match="broken"):
        x = s.batch([0])
    assert torch.equal(x, s.batch([1])) and s.skipped == ["broken"]


def test_dataset_skips_are_reported_as_warning_lines(ws, capsys):
    folder = _dataset(ws / "photos")
    capsys.readouterr()
    rc = cli.main(["adapt", str(ws / "a.png"), "--theta", str(ws / "model.pt"), "-o", str(ws / "m.pt"),
                   "--contents", str(folder), "--profile", "smoke", "--set", "adapt.steps=1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 0, err
    assert err == [f"metastyle: warning: skipped 1 unreadable image(s) in {folder}: broken.jpg",
                   "metastyle: warning: skipped 1 unreadable image(s) in an image set: trunc"]
    assert checkpoint.load(ws / "m.pt")["role"] == "adapted"
    no_leftovers(ws)


def test_dataset_with_only_unreadable_images(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
    with pytest.warns(DataWarning), pytest.raises(DataError, match="no readable images"):
        sets.source_items(str(tmp_path / "bad"), "style")


# ------------------------------------------------------------------------------- modes and orientation
def _roundtrip(img: Image.Image, tmp_path: Path, name: str) -> np.ndarray:
    img.save(tmp_path / name)
    return np.asarray(images.load_image(tmp_path / name))


def test_grayscale(tmp_path):
    rgb = _roundtrip(Image.fromarray(np.array([[0, 128], [200, 255]], np.uint8), "L"), tmp_path, "g.png")
    assert rgb.shape == (2, 2, 3) and (rgb[..., 0] == rgb[..., 2]).all() and rgb[1, 0].tolist() == [200] * 3


def test_rgba_composited_on_white(tmp_path):
    a = np.zeros((2, 2, 4), np.uint8)
    a[0, 0] = (255, 0, 0, 255)      # opaque red
    a[0, 1] = (0, 0, 255, 0)        # fully transparent: white
    a[1, 0] = (0, 0, 0, 128)        # half-transparent black: mid grey
    rgb = _roundtrip(Image.fromarray(a, "RGBA"), tmp_path, "a.png")
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[0, 1].tolist() == [255, 255, 255]
    assert all(abs(v - 127) <= 1 for v in rgb[1, 0])


def test_palette(tmp_path):
    img = Image.new("P", (3, 1))
    img.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    img.putdata([0, 1, 1])
    rgb = _roundtrip(img, tmp_path, "p.png")
    assert rgb[0].tolist() == [[10, 20, 30], [200, 100, 0], [200, 100, 0]]


def test_cmyk(tmp_path):
    img = Image.new("CMYK", (2, 1))
    img.putdata([(0, 0, 0, 0), (0, 255, 255, 0)])  # white, red
    rgb = _roundtrip(img, tmp_path, "c.tif")
    assert rgb[0].tolist() == [[255, 255, 255], [255, 0, 0]]


def test_16bit_png_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 32768, 65535]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    rgb = np.asarray(images.load_image(tmp_path / "d.png"))
    assert rgb[0, :, 0].tolist() == [0, 128, 255]


def test_exif_rotated_photo(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)  # stored landscape 40x20, left half red, right half blue
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    img = images.load_image(tmp_path / "r.jpg")
    assert img.size == (20, 40)  # displayed portrait
    rgb = np.asarray(img).astype(int)
    assert rgb[5, 10, 0] > 200 and rgb[5, 10, 2] < 60    # the left (red) half is now on top
    assert rgb[35, 10, 2] > 200 and rgb[35, 10, 0] < 60  # the right (blue) half at the bottom


# --------------------------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("size", [(1, 1), (40, 10)])
def test_image_below_network_minimum(ws, capsys, size):
    Image.new("RGB", size, (1, 2, 3)).save(ws / "tiny.png")
    fails(stylize(ws, ws / "tiny.png"), capsys, ws, "smaller than the network's minimum side of 16 px")


def test_odd_sized_image_is_stylized_at_its_size(ws, capsys):
    assert cli.main([str(a) for a in stylize(ws, ws / "a.png")]) == 0
    assert Image.open(ws / "out" / "a.png").size == (20, 24)
    no_leftovers(ws)


def _png_header(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims ``w`` x ``h`` pixels (the pixel data is not there)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def test_decompression_bomb_cli(ws):
    (ws / "bomb.png").write_bytes(_png_header(100_000, 100_000))  # 10 gigapixels claimed in 33 bytes
    r = run_subprocess(stylize(ws, ws / "bomb.png"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "image too large to decode safely" in r.stderr
    assert not (ws / "out" / "bomb.png").exists()


def test_decompression_bomb_api(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 px > 1000: a warning, made an error
    with pytest.raises(DataError, match="too large"):
        images.load_image(tmp_path / "big.png")


# ------------------------------------------------------------------------------------ unwritable output
def test_output_folder_missing(ws, capsys):
    fails(["stylize", ws / "a.png", "--model", ws / "model.pt", "-o", ws / "nowhere"], capsys, ws,
          "output folder does not exist")


def test_output_below_a_regular_file(ws, capsys):
    (ws / "file").write_text("x")
    fails(["stylize", ws / "a.png", "--model", ws / "model.pt", "-o", ws / "file" / "sub", "--mkdir"], capsys,
          ws, "file is a file, not a folder")  # names the file in the way (issue 23, case 18)


def test_adapt_output_folder_missing(ws, capsys):
    fails(["adapt", ws / "a.png", "--theta", ws / "model.pt", "-o", ws / "no" / "m.pt", "--profile", "smoke"],
          capsys, ws, "output folder does not exist")


def test_read_only_folder_simulated(ws, capsys, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", denied)
    fails(stylize(ws, ws / "a.png"), capsys, ws, "cannot write to")


def test_disk_full_while_writing(ws, capsys, monkeypatch):
    shutil_copy = (ws / "a.png").read_bytes()
    (ws / "out" / "a.png").write_bytes(b"old result")  # an earlier output with the same name
    real_save = Image.Image.save

    def full(self, fp, *a, **k):
        Path(fp).write_bytes(shutil_copy[:10])  # half-written, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", full)
    fails(stylize(ws, ws / "a.png", extra=["--overwrite"]), capsys, ws, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert (ws / "out" / "a.png").read_bytes() == b"old result"


def test_disk_full_while_saving_checkpoint(tmp_path, monkeypatch):
    from metastyle import errors

    target = tmp_path / "theta.pt"
    target.write_bytes(b"previous checkpoint")

    def full(obj, f, *a, **k):
        f.write(b"PK\x03\x04partial") if hasattr(f, "write") else Path(f).write_bytes(b"PK\x03\x04partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(checkpoint.torch, "save", full)
    with pytest.raises(errors.MetaStyleError, match="cannot write .*No space left on device"):
        checkpoint.save({"kind": "metastyle-model"}, target)
    assert target.read_bytes() == b"previous checkpoint"
    no_leftovers(tmp_path)


# ------------------------------------------------------------------------------------------ checkpoints
def test_checkpoint_of_wrong_architecture(ws, capsys):
    rec = checkpoint.model_record(torch.nn.Conv2d(3, 8, 3))
    checkpoint.save(rec, ws / "conv.pt")
    fails(["stylize", ws / "a.png", "--model", ws / "conv.pt", "-o", ws / "out"], capsys, ws,
          "does not match the TransformerNet architecture")


def test_checkpoint_not_ours(ws, capsys):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, ws / "other.pt")
    fails(["stylize", ws / "a.png", "--model", ws / "other.pt", "-o", ws / "out"], capsys, ws,
          "is not a metastyle checkpoint")
    (ws / "text.pt").write_text("hello")
    fails(["stylize", ws / "a.png", "--model", ws / "text.pt", "-o", ws / "out"], capsys, ws,
          "cannot read checkpoint")


class Payload:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_carrying_code_is_refused_and_not_run(ws, capsys):
    marker = ws / "PWNED"
    torch.save({"kind": "metastyle-model", "model": Payload(marker)}, ws / "evil.pt")
    line = fails(["stylize", ws / "a.png", "--model", ws / "evil.pt", "-o", ws / "out"], capsys, ws,
                 "refusing to load")
    assert "not a plain-weights checkpoint" in line
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refusing"):
        nets.load_model(ws / "evil.pt")
    assert not marker.exists()


# ------------------------------------------------------------------------------------ loss net, config
def test_offline_with_vgg16_requested(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METASTYLE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    monkeypatch.delenv("METASTYLE_VGG16_WEIGHTS", raising=False)
    line = fails(["info", "--profile", "smoke", "--loss-net", "vgg16"], capsys, None,
                 "cannot load torchvision's ImageNet vgg16 weights")
    assert "--vgg-weights PATH" in line and "--loss-net vgg16-caffe" in line
    assert "vgg16-397923af.pth" in line


def test_vgg_weights_file_missing(tmp_path, capsys):
    fails(["info", "--profile", "smoke", "--loss-net", "vgg16", "--vgg-weights", tmp_path / "w.pth"], capsys,
          None, "vgg16 weights file not found")


@pytest.mark.parametrize("override, message", [
    ("meta.inner_lr=nan", "config key meta.inner_lr: must be finite"),
    ("meta.outer_lr=-1e-3", "config key meta.outer_lr: must be > 0"),
    ("meta.iterations=0", "config key meta.iterations: must be > 0"),
    ("adapt.steps=-5", "config key adapt.steps: must be >= 0"),
    ("meta.batch=two", "config key meta.batch: expected int, got 'two'"),
    ("meta.iterationz=3", "unknown config key 'meta.iterationz'"),
    ("iterations", "--set expects KEY=VALUE"),
])
def test_bad_hyperparameters(tmp_path, capsys, override, message):
    fails(["train", "--profile", "smoke", "--set", override, "--out", tmp_path / "run"], capsys, None, message)
    assert not (tmp_path / "run").exists()


def test_unknown_profile(tmp_path, capsys):
    fails(["train", "--profile", "huge", "--out", tmp_path / "run"], capsys, None, "unknown profile 'huge'")
    with pytest.raises(config.ConfigError, match="choose one of paper, quick, long, smoke"):
        config.load("huge")


def test_bad_override_via_flag(capsys):
    fails(["info", "--profile", "smoke", "--loss.loss_net", "resnet"], capsys, None,
          "config key loss.loss_net: must be one of auto, vgg16, vgg16-caffe, vgg16-random")
