"""``make gpu-check`` (issue 22 part 5): it refuses without CUDA, keeps every phase inside its cap and the global
deadline, writes one JSON of the documented layout, and runs end to end on CPU with tiny sizes (dry run). The
``gpu`` tests here are among the CUDA tests the check itself runs."""
import json
import os

import pytest
import torch

from metastyle.method import caffe_vgg
from metastyle.study.lab import gpucheck, perf

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_refuses_in_one_line_without_cuda(tmp_path, capsys):
    assert gpucheck.main(["--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("metastyle gpu-check: error: no CUDA device")
    assert not (tmp_path / "r").exists()  # nothing written


def test_cpu_needs_tiny():
    with pytest.raises(SystemExit) as exc:
        gpucheck.parse_args(["--device", "cpu"])
    assert exc.value.code == 2


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _fake_runner(clock, spend):
    """A phase runner that only advances the clock by ``spend[name]`` (at most its cap) and records the call."""
    calls = []

    def runner(name, settings, work, cap_s, log):
        calls.append((name, cap_s, settings))
        used = min(spend.get(name, 1.0), cap_s)
        clock.t += used
        status = "timeout" if spend.get(name, 1.0) > cap_s else "ok"
        data = {"sizes": {"32": {"runs": {"second-default": {"median_s": 0.5}}}}} if name == "meta" else {}
        return data | {"status": status, "rc": 0, "wall_s": used, "cap_s": cap_s}
    return runner, calls


def test_phase_caps_and_deadline(tmp_path, monkeypatch):
    monkeypatch.delenv("OUT", raising=False)
    clock = FakeClock()
    runner, calls = _fake_runner(clock, {"tests": 5, "table1": 500, "adapt": 20, "meta": 30, "train": 10_000})
    args = gpucheck.parse_args(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--deadline", "300",
                                "--cap", "adapt=15"])
    folder, r = gpucheck.run(args, runner=runner, clock=clock)
    caps = {name: cap for name, cap, _ in calls}
    assert [c[0] for c in calls] == list(gpucheck.PHASES)
    assert caps["tests"] == gpucheck.CAPS_S["tests"] and caps["table1"] == gpucheck.CAPS_S["table1"]
    assert caps["adapt"] == 15  # --cap
    # train gets what is left before the deadline, minus the reserve for copying theta
    spent = 5 + gpucheck.CAPS_S["table1"] + 15 + 30
    assert caps["train"] == pytest.approx(300 - spent - gpucheck.RESERVE_S)
    assert r["phases"]["table1"]["status"] == "timeout" and r["phases"]["train"]["status"] == "timeout"
    assert r["complete"] is False and clock.t <= 300
    # the iteration count is planned from the meta phase's seconds per iteration (tiny: at most 4)
    train = calls[-1][2]
    assert train["s_per_iteration_planned"] == 0.5 and train["iterations"] == 4
    assert gpucheck.plan_iterations(100, 0.5, 30, 7) == int(0.85 * 70 / 0.5)
    assert gpucheck.plan_iterations(100, None, 30, 7) == 7
    on_disk = json.loads((folder / "gpucheck.json").read_text())
    assert on_disk["schema"] == gpucheck.SCHEMA and set(on_disk["phases"]) == set(gpucheck.PHASES)


def test_phases_without_time_are_skipped_not_started(tmp_path):
    clock = FakeClock()
    runner, calls = _fake_runner(clock, {"tests": 90})
    args = gpucheck.parse_args(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--deadline", "100",
                                "--skip", "adapt"])
    _, r = gpucheck.run(args, runner=runner, clock=clock)
    # tests takes its 85 s cap (100 - reserve), then less than MIN_PHASE_S is left for anything else
    assert [c[0] for c in calls] == ["tests"]
    assert r["phases"]["adapt"] == {"status": "skipped", "reason": "--skip"}
    assert r["phases"]["meta"]["status"] == "skipped" and "no time left" in r["phases"]["meta"]["reason"]


def test_out_folder_prefers_argument_then_env(tmp_path, monkeypatch):
    import datetime as dt

    now = dt.datetime(2026, 12, 1, 10, 20, 30, tzinfo=dt.timezone.utc)
    monkeypatch.setenv("OUT", str(tmp_path / "o"))
    assert gpucheck.out_folder(str(tmp_path / "a"), now) == tmp_path / "a"
    assert gpucheck.out_folder(None, now) == tmp_path / "o"
    monkeypatch.delenv("OUT")
    monkeypatch.chdir(tmp_path)
    assert str(gpucheck.out_folder(None, now)) == "results/gpu/2026-12-01"


def test_real_phase_cap_kills_the_child(tmp_path):
    """A real child past its cap is killed with what it started, and marked timeout."""
    with open(tmp_path / "log", "w") as log:
        row = gpucheck.run_child("tests", {"device": "cpu"}, tmp_path, 0.5, log)
    assert row["status"] == "timeout" and row["wall_s"] < 30


def test_packed_vgg_round_trip_is_the_verified_prefix(tmp_path, monkeypatch):
    from metastyle.method.vgg import VGG16_LAYERS, load_loss_net

    packed = gpucheck.pack_vgg(tmp_path / "carry")
    assert packed.stat().st_size < 27e6  # the tree and these weights fit the device's 64 MiB
    full = load_loss_net("vgg16-caffe", VGG16_LAYERS)
    # a device: no weights cache, no ONNX; only the carried prefix
    monkeypatch.setenv("METASTYLE_CACHE", str(tmp_path / "empty"))

    def no_onnx():
        raise caffe_vgg.CaffeVGGUnavailable("no ONNX here")

    monkeypatch.setattr(caffe_vgg, "onnx_path", no_onnx)
    with pytest.raises(caffe_vgg.CaffeVGGUnavailable):
        caffe_vgg.features_state()
    gpucheck.unpack_vgg(packed, tmp_path / "cache")
    assert os.environ["METASTYLE_CACHE"] == str(tmp_path / "cache")
    assert caffe_vgg.tensor_digest(caffe_vgg.features_state()[0]) == caffe_vgg.PREFIX_SHA256
    carried = load_loss_net("vgg16-caffe", VGG16_LAYERS)
    x = torch.rand(1, 3, 32, 32)
    for name, y in full(x).items():
        assert torch.equal(y, carried(x)[name])
    with pytest.raises(caffe_vgg.CaffeVGGUnavailable, match="conv1_1-conv4_3 only"):
        load_loss_net("vgg16-caffe", ("relu5_1",))
    # a damaged prefix is refused, never used
    from safetensors.torch import load_file, save_file

    state = load_file(str(caffe_vgg.prefix_path()))
    state["0.bias"][0] += 1e-3
    save_file(state, str(caffe_vgg.prefix_path()))
    with pytest.raises(caffe_vgg.CaffeVGGUnavailable, match="not the conv1_1-conv4_3 part"):
        caffe_vgg.features_state()


@pytest.mark.slow
def test_tiny_dry_run_writes_the_documented_folder(tmp_path, monkeypatch):
    """The whole orchestration on CPU with tiny sizes: every phase in its own process, six flat files."""
    monkeypatch.delenv("OUT", raising=False)
    out = tmp_path / "gpu"
    assert gpucheck.main(["--device", "cpu", "--tiny", "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(gpucheck.OUT_FILES)
    r = json.loads((out / "gpucheck.json").read_text())
    assert r["schema"] == gpucheck.SCHEMA and r["mode"] == "tiny" and r["complete"] is True
    assert sorted(r["files"]) == sorted(gpucheck.OUT_FILES)
    ph = r["phases"]
    assert all(ph[k]["status"] == "ok" and ph[k]["wall_s"] <= ph[k]["cap_s"] for k in gpucheck.PHASES)
    assert ph["tests"]["ok"] is True
    t = ph["table1"]["transformer"]["sizes"]["32"]
    assert {"plain", "inference_mode", "channels_last"} <= set(t["variants"]) and t["best"] in t["variants"]
    assert ph["table1"]["machine"]["matmul"]["gflops"] > 0
    assert ph["adapt"]["steps_timed"] == 2 and ph["adapt"]["timed_total_s"] > 0
    meta = ph["meta"]["sizes"]["32"]
    assert {"second-official", "second-default", "first-official", "first-default"} == set(meta["runs"])
    assert set(meta["speedup_vs_official"]) == {"second", "first"}
    assert ph["train"]["finished"] is True and ph["train"]["theta_step"] == 4 and ph["train"]["logged_iterations"] == 4


# --------------------------------------------------------------------------- CUDA tests (run by the check)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@needs_cuda
def test_cuda_meta_step_matches_cpu():
    """One second-order meta-step's gradient on CUDA equals the CPU one (fp32, random VGG, 32 px)."""
    from metastyle.method.losses import LossSpec, style_targets
    from metastyle.method.meta import Task, meta_step
    from metastyle.method.nets import TransformerNet, is_instance_norm
    from metastyle.method.vgg import load_loss_net

    spec = LossSpec()
    grads = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        net, vgg = TransformerNet().to(dev), load_loss_net("vgg16-random", spec.layers, device=dev)
        g = torch.Generator().manual_seed(1)
        rand = lambda n, g=g, dev=dev: torch.rand(n, 3, 32, 32, generator=g).to(dev)  # noqa: E731
        tasks = [Task(style_targets(vgg, rand(1), spec), [rand(2)], rand(2)) for _ in range(2)]
        meta_step(net, vgg, spec, tasks, inner_lr=1e-3, steps=1, include=is_instance_norm)
        grads[dev] = torch.cat([p.grad.flatten().cpu() for p in net.parameters()])
    rel = (grads["cuda"] - grads["cpu"]).norm() / grads["cpu"].norm()
    assert rel < 1e-3


@pytest.mark.gpu
@needs_cuda
def test_cuda_users_path_is_eager_and_exact():
    from metastyle.method.nets import TransformerNet
    from metastyle.method.stylize import stylize

    net = TransformerNet().cuda().eval()
    auto = perf.AutoStylizer(net)
    x = torch.rand(1, 3, 512, 512)
    assert not auto.compiles((1, 3, 512, 512))  # GPUs stay eager until measured
    torch.testing.assert_close(stylize(auto, x), stylize(net, x))
