"""Video stylisation round trips, the CLI, and the temporal metrics on synthetic clips with known motion."""
import numpy as np
import pytest
import torch

from metastyle.app import cli
from metastyle.data.video_io import probe, read_frames
from metastyle.errors import DataError
from metastyle.infra import checkpoint
from metastyle.method.nets import TransformerNet
from metastyle.method.video import stylize_video
from metastyle.study.temporal import (
    as_float_frame,
    input_metrics,
    optical_flow,
    stylized_metrics,
    synthetic_clip,
    temporal_metrics,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TransformerNet().eval()


def flicker(frames, seed=0, lo=0.7):
    """Multiply each frame by its own random brightness."""
    rng = np.random.default_rng(seed)
    return [(f.astype(np.float32) * rng.uniform(lo, 1.0)).round().astype(np.uint8) for f in frames]


@pytest.mark.parametrize("size,pix_fmt,expect", [((40, 32), "auto", (40, 32)), ((37, 29), "auto", (37, 29)),
                                                 ((37, 29), "yuv420p", (38, 30))])
def test_round_trip_keeps_frames_and_size(tmp_path, net, size, pix_fmt, expect):
    clip = synthetic_clip(7, size, "pan", seed=1)
    src = clip.write(tmp_path / "in.mp4")
    assert [f.shape for f in read_frames(src)] == [(size[1], size[0], 3)] * 7
    out = stylize_video(src, tmp_path / "out.mp4", net, batch=3, progress=False, pix_fmt=pix_fmt)
    frames = list(read_frames(out))
    assert len(frames) == 7 and frames[0].shape == (expect[1], expect[0], 3)
    meta = probe(out)
    assert meta["fps"] == pytest.approx(clip.fps) and meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p" if expect[0] % 2 == 0 else "yuv444p")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left behind"
    # the output is the network's stylisation (up to H.264 loss), not a copy of the input
    from metastyle.method.stylize import stylize

    def tensor(frame):
        return torch.from_numpy(np.array(frame[:size[1], :size[0]])).permute(2, 0, 1).float() / 255

    first_in = tensor(next(read_frames(src)))
    ref, got = stylize(net, first_in), tensor(frames[0])
    assert (ref - got).abs().mean() < 0.5 * (first_in - got).abs().mean()


def test_max_side_and_audio(tmp_path, net):
    import subprocess

    import imageio_ffmpeg

    src = tmp_path / "a.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=8",
                    "-f", "lavfi", "-i", "sine=f=440", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(src)], check=True)
    kept = probe(stylize_video(src, tmp_path / "k.mp4", net, keep_audio=True, max_side=32, progress=False))
    dropped = probe(stylize_video(src, tmp_path / "d.mp4", net, max_side=32, progress=False))
    assert kept["size"] == (32, 24) and kept.get("audio_codec") == "aac"
    assert "audio_codec" not in dropped and dropped["size"] == (32, 24)


def test_cli_stylize_video(tmp_path, net, capsys):
    model = checkpoint.save(checkpoint.model_record(net), tmp_path / "m.pt")
    src = synthetic_clip(5, (48, 36), "zoom").write(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    assert cli.main(["stylize-video", str(src), str(out), "--model", str(model), "--batch", "2",
                     "--no-progress"]) == 0
    assert len(list(read_frames(out))) == 5
    assert cli.main(["video-metrics", str(src), str(out), "--json"]) == 0
    assert '"warp_mse"' in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, b"not a video at all" * 100])
def test_cli_missing_or_corrupt_input_is_one_line(tmp_path, content, capsys):
    src = tmp_path / "in.mp4"
    if content is not None:
        src.write_bytes(content)
    rc = cli.main(["stylize-video", str(src), str(tmp_path / "o.mp4"), "--model", str(tmp_path / "no.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("metastyle: error:") and "in.mp4" in err
    assert not (tmp_path / "o.mp4").exists()


def test_static_clip_has_zero_warp_error():
    frames = synthetic_clip(6, motion="static").frames
    m = input_metrics(iter(frames))
    assert m.warp_mse < 1e-8 and m.out_change == 0 and m.pairs == 5


def test_flicker_is_detected():
    clip = synthetic_clip(8, motion="pan", seed=2)
    clean = temporal_metrics(iter(clip.frames), iter(clip.frames), border=8)
    noisy = temporal_metrics(iter(clip.frames), iter(flicker(clip.frames)), border=8)
    assert noisy.warp_mse > 10 * clean.warp_mse
    assert noisy.flicker_ratio > 1.15 * clean.flicker_ratio and clean.flicker_ratio == pytest.approx(1.0)
    static = synthetic_clip(5, motion="static").frames
    still = temporal_metrics(iter(static), iter(flicker(static)))
    assert still.warp_mse > 1e-3 and still.flicker_ratio == float("inf")


@pytest.mark.parametrize("motion", ["pan", "zoom"])
def test_flow_is_recovered_on_known_motion(motion):
    clip = synthetic_clip(4, motion=motion, seed=3)
    fw = optical_flow(as_float_frame(clip.frames[0]), as_float_frame(clip.frames[1]))
    epe = np.linalg.norm(fw - clip.flows[0], axis=-1)[8:-8, 8:-8]  # end-point error away from the borders
    assert np.median(epe) < 0.25 and np.abs(clip.flows[0]).max() > 0.9
    m = input_metrics(iter(clip.frames), border=8)
    assert m.warp_mse < 1e-3 and m.valid_fraction > 0.5  # the input's own warp error is ~0: flow works
    shuffled = temporal_metrics(iter(clip.frames), iter(clip.frames[::-1]), border=8)
    assert shuffled.warp_mse > 10 * m.warp_mse


def test_stylized_metrics_and_errors(net):
    frames = synthetic_clip(4, (48, 32), "pan").frames
    m = stylized_metrics(iter(frames), lambda f: f[::-1].copy())  # a "stylisation" that flips the frame
    assert m.pairs == 3 and m.warp_mse > 0
    with pytest.raises(DataError, match="frame counts"):
        temporal_metrics(iter(frames), iter(frames[:2]))
    with pytest.raises(DataError, match="two frames"):
        temporal_metrics(iter(frames[:1]), iter(frames[:1]))
