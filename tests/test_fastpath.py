"""The users' fast path (issue 22 part 4): ``metastyle stylize``, ``stylize-video`` and the widget take the
compiled path at and above ``perf.COMPILE_MIN_PIXELS``, eager below it, and give the eager path's outputs."""
import numpy as np
import pytest
import torch
from PIL import Image

from metastyle.app import cli
from metastyle.infra import checkpoint
from metastyle.method.nets import TransformerNet
from metastyle.method.stylize import stylize
from metastyle.study.lab import perf

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def spy(monkeypatch):
    """Record every ``fast_stylizer`` the users' path builds; compile with the ``eager`` backend (dynamo traces
    the network, no C++ is generated: the same plumbing in a second, numerically the eager net)."""
    shapes, real = [], perf.fast_stylizer

    def fake(net, shape, **kw):
        shapes.append(tuple(shape))
        assert kw.get("copy_net") is False and kw.get("compile")
        return real(net, shape, **(kw | {"compile": "eager"}))

    monkeypatch.setattr(perf, "fast_stylizer", fake)
    monkeypatch.delenv(perf.COMPILE_ENV, raising=False)
    return shapes


def _image(path, w, h, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(path)
    return path


def test_threshold_is_the_benched_crossover():
    # results/bench/cpu-amd-epyc-2t.json: compile repays its first call within a handful of images at 512 px
    assert perf.COMPILE_MIN_PIXELS == 512 * 512 and perf.EAGER_CALLS_BEFORE_COMPILE == 1
    auto = perf.AutoStylizer(TransformerNet())
    assert auto.compiles((1, 3, 512, 512)) and auto.compiles((1, 3, 384, 720))
    assert not auto.compiles((1, 3, 256, 256)) and not auto.compiles((1, 3, 500, 500))


def test_cli_stylize_compiles_above_the_threshold_only(tmp_path, spy, monkeypatch, capsys):
    monkeypatch.setattr(perf, "COMPILE_MIN_PIXELS", 48 * 40)  # tiny sizes, same rule
    torch.manual_seed(0)
    net = TransformerNet().eval()
    model = checkpoint.save(checkpoint.model_record(net), tmp_path / "m.pt")
    src = tmp_path / "in"
    src.mkdir()
    big = [_image(src / f"big{i}.png", 48, 40, i) for i in range(3)]  # one shape, three images
    small = _image(src / "small.png", 32, 24, 9)                      # under the threshold
    assert cli.main(["stylize", *map(str, big + [small]), "--model", str(model), "-o", str(tmp_path / "out"),
                     "--mkdir"]) == 0
    # the first big image runs eager (no first-call wait for a single image), the shape compiles once after
    assert spy == [(1, 3, 40, 48)]
    assert "compiling the network for 48x40" in capsys.readouterr().err
    # the written images equal the eager path's (PNG: at most one 8-bit level apart)
    for path in big + [small]:
        ref = stylize(net, torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1).float() / 255)
        got = torch.from_numpy(np.array(Image.open(tmp_path / "out" / path.name))).permute(2, 0, 1).float() / 255
        assert (ref - got).abs().max() <= 1 / 255 + 1e-6


def test_cli_stylize_stays_eager_below_threshold_and_when_disabled(tmp_path, spy, monkeypatch):
    torch.manual_seed(0)
    model = checkpoint.save(checkpoint.model_record(TransformerNet()), tmp_path / "m.pt")
    imgs = [_image(tmp_path / f"a{i}.png", 48, 40, i) for i in range(3)]
    assert cli.main(["stylize", *map(str, imgs), "--model", str(model), "-o", str(tmp_path / "o1"),
                     "--mkdir"]) == 0
    assert spy == []  # 48 x 40 is far below COMPILE_MIN_PIXELS
    monkeypatch.setattr(perf, "COMPILE_MIN_PIXELS", 16)
    monkeypatch.setenv(perf.COMPILE_ENV, "0")
    assert cli.main(["stylize", *map(str, imgs), "--model", str(model), "-o", str(tmp_path / "o2"),
                     "--mkdir"]) == 0
    assert spy == []


def test_cli_stylize_video_takes_the_fast_path(tmp_path, spy, monkeypatch):
    from metastyle.data.video_io import read_frames
    from metastyle.method.video import stylize_frames
    from metastyle.study.temporal import synthetic_clip

    monkeypatch.setattr(perf, "COMPILE_MIN_PIXELS", 48 * 36)
    torch.manual_seed(0)
    net = TransformerNet().eval()
    model = checkpoint.save(checkpoint.model_record(net), tmp_path / "m.pt")
    src = synthetic_clip(7, (48, 36), "zoom").write(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    assert cli.main(["stylize-video", str(src), str(out), "--model", str(model), "--batch", "2",
                     "--no-progress"]) == 0
    # batches of 2 frames (48 x 36, reflection-padded to 48 x 36): compiled from the second batch; the last,
    # a single frame, is a shape seen once and runs eager
    assert spy == [(2, 3, 36, 48)]
    assert len(list(read_frames(out))) == 7
    frames = list(read_frames(src))
    fast = perf.AutoStylizer(net, backend="eager")
    got = np.stack(list(stylize_frames(frames, fast, batch=2)))
    ref = np.stack(list(stylize_frames(frames, net, batch=2)))
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


def test_widget_fast_path_follows_the_blend(spy, monkeypatch):
    pytest.importorskip("ipywidgets")
    from metastyle.app.widget import interpolation_widget
    from metastyle.method.interpolate import Blender

    monkeypatch.setattr(perf, "COMPILE_MIN_PIXELS", 32 * 32)
    g = torch.Generator().manual_seed(0)
    theta = TransformerNet().state_dict()
    models = {k: {n: v + 0.05 * torch.randn(v.shape, generator=g) for n, v in theta.items()} for k in "ab"}
    w = interpolation_widget(models, torch.rand(3, 32, 32, generator=g), theta=theta, size=32)
    ref = Blender(models, theta)  # the eager path, same blends
    for lam in (0.2, 0.9, 0.5):  # the weights change in place between redraws: the compiled path must follow
        w.sliders["lambda"].value = lam
        ref.set(ref.coefficients(w.weights(), 1.0))
        torch.testing.assert_close(w.render(), ref.render(w.content), rtol=1e-4, atol=1e-5)
    assert spy == [(1, 3, 32, 32)]


def test_failed_compile_warns_once_and_stays_eager(monkeypatch):
    def broken(*_, **__):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(perf, "fast_stylizer", broken)
    monkeypatch.delenv(perf.COMPILE_ENV, raising=False)
    net = TransformerNet().eval()
    auto = perf.AutoStylizer(net, min_pixels=16, eager_calls=0)
    x = torch.rand(1, 3, 32, 32)
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        y = stylize(auto, x)
    torch.testing.assert_close(y, stylize(net, x))
    assert not auto.enabled and stylize(auto, x).shape == x.shape


@pytest.mark.slow
def test_inductor_compiled_path_matches_eager(monkeypatch):
    """The real compiled path (inductor, generated C++), once at a small size: within float rounding."""
    import warnings

    monkeypatch.delenv(perf.COMPILE_ENV, raising=False)
    torch.manual_seed(0)
    net = TransformerNet().eval()
    auto = perf.AutoStylizer(net, min_pixels=32 * 32, eager_calls=0)
    x = torch.rand(1, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an eager fallback (failed compile) fails the test
        got = stylize(auto, x)
    assert auto.compiled_shapes == [(1, 3, 32, 32)]
    torch.testing.assert_close(got, stylize(net, x), rtol=1e-4, atol=1e-5)
