"""Baselines (Gatys, Johnson), the initialisation experiments and the quality metrics: 32 px, synthetic
images, the seeded random VGG-16 (no weights, no network, no example images)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metastyle import config
from metastyle.app.cli import main
from metastyle.baselines.gatys import EPS, gatys, initial_image
from metastyle.baselines.johnson import train_johnson
from metastyle.data.images import load_image
from metastyle.data.sets import ImageSet, Item, draw
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint
from metastyle.infra.runlog import read_csv
from metastyle.method import nets
from metastyle.method.adapt import STREAM_ADAPT
from metastyle.method.context import Objective, make_context
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
from metastyle.method.nets import random_init
from metastyle.method.vgg import load_loss_net
from metastyle.study import metrics
from metastyle.study.compare import gatys_inits, johnson_inits
from metastyle.study.evaluation import adaptation_curve

SIZE = 32


def pattern(seed: int, size: int = SIZE) -> np.ndarray:
    """A smooth random colour picture (uint8 HWC): low-frequency structure, not white noise."""
    g = np.random.default_rng(seed)
    small = g.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC), np.float64)
    return np.clip(img + g.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def tensor(seed: int, size: int = SIZE) -> torch.Tensor:
    return torch.from_numpy(pattern(seed, size)).permute(2, 0, 1).float().div(255)[None]


def stripes(size: int = SIZE) -> torch.Tensor:
    """A 'painting': saturated diagonal stripes, colour statistics far from the contents'."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    s = ((x + y) // 3 % 2).float()
    return torch.stack([s, 0.2 + 0.6 * (1 - s), 0.9 * s])[None]


#: Two shallow layers keep the tests fast on 2 CPU cores; the CLI tests use the full four-layer loss.
LAYERS = ("relu1_2", "relu2_2")


@pytest.fixture(scope="module")
def loss_net():
    return load_loss_net("vgg16-caffe", LAYERS)


@pytest.fixture(scope="module")
def ctx(loss_net):
    c = make_context(config.load("smoke"), with_data=False, loss_net=loss_net)
    return dataclasses.replace(c, spec=dataclasses.replace(c.spec, style_layers=LAYERS))


def contents(n: int = 2) -> ImageSet:
    return ImageSet([Item(f"c{i}", None, Image.fromarray(pattern(100 + i))) for i in range(n)], SIZE)


def loss_of(loss_net, spec, image, content, style) -> float:
    with torch.no_grad():
        return perceptual_loss(loss_net, image, content_targets(loss_net, content, spec),
                               style_targets(loss_net, style, spec), spec).total.item()


# ------------------------------------------------------------------------------------------------ Gatys
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_gatys_lowers_loss_within_10_iterations(loss_net, ctx, optimizer):
    seen = []
    res = gatys(tensor(1), stripes(), ctx, iterations=8, optimizer=optimizer, init="content",
                callback=seen.append)
    assert res.iterations == 8 and len(res.history) == 9 and seen == res.history
    assert [h.iteration for h in res.history] == list(range(9))
    assert res.history[-1].loss < 0.9 * res.history[0].loss
    assert res.image.shape == (1, 3, SIZE, SIZE) and 0 <= res.image.min() and res.image.max() <= 1
    assert res.loss_net["name"] == "vgg16-caffe" and res.optimizer == optimizer
    # the reported final loss is the loss of the returned image
    assert res.history[-1].loss == pytest.approx(loss_of(loss_net, ctx.spec, res.image, tensor(1), stripes()),
                                                 rel=1e-4)


def test_gatys_starts_from_the_given_image(loss_net, ctx):
    content, style, start = tensor(1), stripes(), 0.1 + 0.8 * tensor(7)
    expected = loss_of(loss_net, ctx.spec, start, content, style)
    assert expected != pytest.approx(loss_of(loss_net, ctx.spec, content, content, style), rel=1e-2)
    res = gatys(content, style, ctx, iterations=1, optimizer="adam", init=start,
                snapshot_at=(0,))
    assert res.init == "image"
    assert res.history[0].loss == pytest.approx(expected, rel=1e-4)
    assert torch.allclose(res.snapshots[0], start, atol=1e-5)
    noise = gatys(content, style, ctx, iterations=0, init="noise", seed=3)
    assert len(noise.history) == 1
    assert torch.allclose(noise.image, initial_image(content, "noise", seed=3).clamp(EPS, 1 - EPS), atol=1e-5)


def test_gatys_rejects_unknown_choices(loss_net, ctx):
    with pytest.raises(ValueError, match="lbfgs"):
        gatys(tensor(1), stripes(), ctx, iterations=1, optimizer="sgd")
    with pytest.raises(ValueError, match="noise"):
        gatys(tensor(1), stripes(), ctx, iterations=1, init="grey")


# ---------------------------------------------------------------------------------------------- Johnson
def test_johnson_lowers_its_loss(ctx, tmp_path):
    # two contents, batch 2 (smoke): every step sees the same batch, so the losses are comparable
    hist = []
    net, path = train_johnson(ctx, stripes(), contents(2), tmp_path, init="random", steps=5, callback=hist.append)
    assert [h.step for h in hist] == [1, 2, 3, 4, 5]
    assert hist[-1].loss < hist[0].loss
    rows = read_csv(tmp_path / "log.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    loaded, meta = nets.load_model(path)
    assert meta["role"] == "johnson" and meta["loss_net"]["name"] == "vgg16-caffe"
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))


def test_johnson_from_a_checkpoint_starts_there(ctx, tmp_path):
    start = random_init(7)
    with torch.no_grad():
        start.in3.weight.mul_(3.0)  # not a fresh init: the loss must come from these weights
    ckpt = checkpoint.save(checkpoint.model_record(start, role="theta"), tmp_path / "theta.pt")
    cs, style = contents(3), stripes()
    hist = []
    train_johnson(ctx, style, cs, tmp_path / "run", init=ckpt, steps=1, callback=hist.append)
    x = cs.batch(draw(len(cs), ctx.cfg.adapt.batch, ctx.cfg.run.seed, STREAM_ADAPT, 0))
    expected = loss_of(ctx.loss_net, ctx.spec, start(x), x, style)
    assert hist[0].loss == pytest.approx(expected, rel=1e-5)
    fresh = loss_of(ctx.loss_net, ctx.spec, random_init(ctx.cfg.run.seed)(x), x, style)
    assert fresh != pytest.approx(expected, rel=1e-3)


def test_johnson_resume_matches_uninterrupted(ctx, tmp_path):
    cs, style = contents(3), stripes()
    full, _ = train_johnson(ctx, style, cs, tmp_path / "full", steps=3, ckpt_every=1)
    train_johnson(ctx, style, cs, tmp_path / "cut", steps=2, ckpt_every=1)
    resumed, _ = train_johnson(ctx, style, cs, tmp_path / "cut", steps=3, resume=True)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert [int(r["step"]) for r in read_csv(tmp_path / "cut" / "log.csv")] == [1, 2, 3]


def test_johnson_resume_refuses_a_changed_config_or_an_incomplete_log(ctx, tmp_path):
    cs, style = contents(2), stripes()
    train_johnson(ctx, style, cs, tmp_path / "run", steps=2, ckpt_every=1)
    other = dataclasses.replace(ctx, cfg=config.apply(ctx.cfg, {"adapt.lr": 5e-4}))
    with pytest.raises(MetaStyleError, match=r"--resume refused: the config differs .*adapt\.lr"):
        train_johnson(other, style, cs, tmp_path / "run", steps=3, resume=True)
    log = tmp_path / "run" / "log.csv"
    log.write_text(log.read_text().splitlines()[0] + "\n")  # the rows before the checkpoint are gone
    with pytest.raises(MetaStyleError, match="lacks 2 row"):
        train_johnson(ctx, style, cs, tmp_path / "run", steps=3, resume=True)


# ---------------------------------------------------------------------------------------------- metrics
def test_metrics_identities_and_ranges(loss_net, ctx):
    a, b = tensor(1), tensor(2)
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert -1 <= metrics.ssim(a, b) < 0.99
    assert metrics.colour_w2(a, a) == pytest.approx(0.0, abs=1e-3)
    assert metrics.colour_w2(a, a.flip(-1)) == pytest.approx(0.0, abs=1e-3)  # positions do not matter
    assert metrics.colour_w2(a, stripes()) > 5 and metrics.colour_w2(a, stripes()) == pytest.approx(
        metrics.colour_w2(stripes(), a), rel=1e-3)
    p = metrics.perceptual(a, a, stripes(), ctx)
    assert p["content"] == 0 and p["style"] > 0 and math.isfinite(p["total"])


def test_perceptual_scores_image_i_against_content_i_and_refuses_mismatched_batches(ctx):
    a, b, s = tensor(1), tensor(2), stripes()
    one = metrics.perceptual(b, a, s, ctx)
    assert metrics.perceptual(b[0], a[0], s[0], ctx) == one  # (3, H, W) images are batches of one
    pair = metrics.perceptual(torch.cat([b, a]), torch.cat([a, a]), s, ctx)  # the batch mean
    assert pair["style"] == pytest.approx((one["style"] + metrics.perceptual(a, a, s, ctx)["style"]) / 2, rel=1e-4)
    assert metrics.perceptual(b, a, s, Objective(ctx.loss_net, ctx.spec)) == one  # no config needed
    with pytest.raises(ValueError, match=r"^perceptual: image \(2, 3, .*\) and content \(1, 3, .*\) differ"):
        metrics.perceptual(torch.cat([b, a]), a, s, ctx)


def test_evaluate_method_records_loss_net_and_time(loss_net, ctx):
    pairs = [(tensor(1), stripes()), (tensor(2), stripes())]
    rows = metrics.evaluate_method(lambda c, s: c, pairs, ctx, method="identity")
    assert len(rows) == 2
    for r in rows:
        assert r["method"] == "identity" and r["loss_net"] == "vgg16-caffe" and r["seconds"] >= 0
        assert r["ssim"] == pytest.approx(1.0) and r["content"] == 0 and r["colour_w2"] > 0
    with pytest.raises(ValueError, match="content's size"):
        metrics.evaluate_method(lambda c, s: c[..., :16, :16], pairs, ctx)


# ------------------------------------------------------------------------------------------- comparison
def test_initialisation_experiments_write_their_data(ctx, tmp_path):
    theta = random_init(5)
    g = gatys_inits(tensor(1), stripes(), ctx.loss_net, ctx.spec, tmp_path / "g", theta=theta, iterations=2,
                    optimizer="adam", snapshot_at=(0, 2))
    assert {r["init"] for r in g["rows"]} == {"content", "noise", "metastyle"} and len(g["rows"]) == 9
    assert (tmp_path / "g" / "gatys_snapshots" / "metastyle_it0.png").is_file()
    assert len(read_csv(g["paths"]["curves"])) == 9
    assert json.loads(g["paths"]["summary"].read_text())["loss_net"]["name"] == "vgg16-caffe"
    j = johnson_inits(ctx, stripes(), contents(3), contents(2), tmp_path / "j", theta=theta, steps=2,
                      eval_every=1, snapshot_at=(0, 2))
    assert [(r["start"], r["step"]) for r in j["eval"]] == [(s, k) for s in ("random", "theta") for k in (0, 1, 2)]
    assert len(read_csv(j["paths"]["train"])) == 4
    assert (tmp_path / "j" / "johnson_snapshots" / "theta_step2_c1.png").is_file()
    # step 0 of the theta start is theta itself
    assert j["eval"][3]["loss"] != pytest.approx(j["eval"][0]["loss"], rel=1e-3)


def test_johnson_inits_takes_named_starts_and_image_pairs_like_notebook_09(ctx, tmp_path):
    """Notebook 09's use: a third start (θ_plain) by name, held-out contents as (name, image) pairs, snapshot
    files returned; the held-out curve is the one ``adaptation_curve`` gives for the same run."""
    theta, plain = random_init(5), random_init(6)
    pairs = [(f"e{i}", tensor(200 + i)) for i in range(2)]
    j = johnson_inits(ctx, stripes(), contents(3), pairs, tmp_path / "j", theta=theta, starts=("theta", "plain"),
                      nets={"plain": plain}, steps=2, eval_every=1, snapshot_at=(0, 2), max_snapshots=1)
    assert [(r["start"], r["step"]) for r in j["eval"]] == [(s, k) for s in ("theta", "plain") for k in (0, 1, 2)]
    assert list(j["snapshots"]) == ["theta", "plain"] and list(j["snapshots"]["plain"]) == [0, 2]
    assert [Path(p).name for p in j["snapshots"]["plain"][2]] == ["plain_step2_e0.png"]
    assert all(Path(p).is_file() for v in j["snapshots"].values() for ps in v.values() for p in ps)
    curve = adaptation_curve(theta, stripes(), ctx, torch.cat([x for _, x in pairs]), steps=2, points=3,
                             contents=contents(3))
    assert [r["loss"] for r in j["eval"][:3]] == pytest.approx([r["loss_total"] for r in curve], rel=1e-4)
    with pytest.raises(MetaStyleError, match=r"unknown start\(s\) \['plain'\]"):
        johnson_inits(ctx, stripes(), contents(3), pairs, tmp_path / "k", starts=("plain",), steps=1)


# -------------------------------------------------------------------------------------------------- CLI
def write_png(arr: np.ndarray, path) -> str:
    Image.fromarray(arr).save(path)
    return str(path)


def test_cli_gatys_end_to_end(tmp_path, capsys):
    c = write_png(pattern(1, 40), tmp_path / "c.png")
    s = write_png((stripes(40)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8), tmp_path / "s.png")
    out = tmp_path / "g.png"
    assert main(["gatys", c, s, "-o", str(out), "--profile", "smoke", "--iterations", "3", "--no-progress"]) == 0
    assert load_image(out).size == (32, 32)  # smoke budget: long side 32
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["iterations"] == 3 and len(rec["history"]) == 4 and rec["loss_net"]["name"] == "vgg16-caffe"
    assert main(["gatys", c, s, "-o", str(tmp_path / "g2.png"), "--profile", "smoke", "--iterations", "1",
                 "--init", str(out), "--optimizer", "adam", "--no-progress"]) == 0
    assert main(["gatys", c, s, "-o", str(tmp_path / "no" / "g.png"), "--profile", "smoke"]) == 2
    assert "output folder does not exist" in capsys.readouterr().err


def test_cli_johnson_end_to_end(tmp_path):
    folder = tmp_path / "contents"
    folder.mkdir()
    for i in range(2):
        write_png(pattern(10 + i, 48), folder / f"c{i}.png")
    s = write_png((stripes(40)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8), tmp_path / "s.png")
    out = tmp_path / "j.pt"
    assert main(["johnson", s, "--init", "random", "-o", str(out), "--steps", "2", "--contents", str(folder),
                 "--profile", "smoke", "--no-progress"]) == 0
    net, meta = nets.load_model(out)
    assert meta["role"] == "johnson" and meta["style"] == "s" and meta["init"].startswith("random")
    assert [int(r["step"]) for r in read_csv(tmp_path / "j.run" / "log.csv")] == [1, 2]
    state = checkpoint.load(tmp_path / "j.run" / "train_state.pt", "metastyle-train")
    assert state["step"] == 2 and "optimizer" in state and "rng" in state
    # --init PATH (the library path is tested above) and --resume both refuse what does not exist
    assert main(["johnson", s, "--init", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "k.pt"),
                 "--contents", str(folder), "--profile", "smoke"]) == 2
