"""Core: network, losses, fast weights, meta-gradient, meta-training, adaptation, stylisation."""
import dataclasses

import pytest
import torch
from torch import nn

from metastyle import config
from metastyle.data.sets import ImageSet, Item
from metastyle.errors import MetaStyleError
from metastyle.infra.runlog import read_csv
from metastyle.method.adapt import fit_style
from metastyle.method.context import Objective
from metastyle.method.functional import call, inner_step, params_of
from metastyle.method.losses import LossSpec, content_targets, gram, perceptual_loss, style_targets
from metastyle.method.meta import Task, meta_step, meta_train, task_losses
from metastyle.method.nets import TransformerNet, count_parameters, is_instance_norm, random_init
from metastyle.method.stylize import stylize


def test_parameter_counts_match_the_paper():
    net = TransformerNet()
    assert count_parameters(net) == 1_679_235
    assert count_parameters(net, is_instance_norm) == 3_200
    assert list(net.buffers()) == []  # a parameter dict is a complete state


def test_output_range_and_size():
    torch.manual_seed(0)
    y = TransformerNet()(torch.rand(2, 3, 32, 48))
    assert y.shape == (2, 3, 32, 48) and y.min() >= 0 and y.max() <= 1


def test_random_init_is_a_function_of_the_seed_and_leaves_the_global_rng_alone():
    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = random_init(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.rand(5)  # the global RNG moves on; the seeded init does not depend on it
    assert same(a, random_init(3))
    assert not same(a, random_init(4))
    torch.manual_seed(3)
    assert same(a, TransformerNet())  # PyTorch's default initialisation, drawn from that seed


def test_functional_call_equals_module():
    torch.manual_seed(0)
    net, x = TransformerNet(), torch.rand(1, 3, 32, 32)
    assert torch.equal(call(net, params_of(net), x), net(x))
    assert torch.equal(call(net, params_of(net, is_instance_norm), x), net(x))


def test_an_inner_step_returns_new_weights_and_mutates_nothing():
    torch.manual_seed(0)
    net = TransformerNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    params = params_of(net, is_instance_norm)
    kept = dict(params)
    new = inner_step(params, call(net, params, torch.rand(1, 3, 32, 32)).mean(), 1.0)
    assert new is not params and any(not torch.equal(new[k], params[k]) for k in params)
    assert params.keys() == kept.keys() and all(params[k] is kept[k] for k in kept)  # the input dict is untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_gram_is_symmetric_normalised_and_pure():
    f = torch.rand(2, 4, 5, 6)
    copy = f.clone()
    g = gram(f)
    assert g.shape == (2, 4, 4) and torch.allclose(g, g.transpose(1, 2))
    assert torch.allclose(g[0, 0, 0], (f[0, 0] ** 2).sum() / (4 * 5 * 6))
    assert torch.equal(f, copy)


class TinyLossNet(nn.Module):
    """A smooth two-layer 'VGG' with named outputs, for exact gradient checks."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.requires_grad_(False)

    def forward(self, x):
        a = torch.tanh(self.a(x))
        return {"a": a, "b": torch.tanh(self.b(a))}


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = nn.Conv2d(3, 4, 3, padding=1), nn.InstanceNorm2d(4, affine=True)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, x):
        return torch.sigmoid(self.conv2(torch.tanh(self.in1(self.conv1(x)))))


def _tiny_problem(second_order=True):
    torch.manual_seed(0)
    net, loss_net = TinyNet().double(), TinyLossNet().double()
    spec = LossSpec(content_weight=1.0, style_weight=10.0, content_layer="a", style_layers=("a", "b"))
    support, query = torch.rand(2, 3, 8, 8).double(), torch.rand(2, 3, 8, 8).double()
    task = Task(style_targets(loss_net, torch.rand(1, 3, 8, 8).double(), spec), [support], query)
    feats = {id(x): content_targets(loss_net, x, spec) for x in (support, query)}

    def meta_loss():
        _, q = task_losses(net, loss_net, spec, task, feats, inner_lr=0.5, steps=1, include=is_instance_norm,
                           second_order=second_order)
        return q.total

    return net, meta_loss


def test_second_order_meta_gradient_matches_finite_differences():
    net, meta_loss = _tiny_problem()
    meta_loss().backward()
    eps = 1e-6
    for name in ("conv1.weight", "in1.weight", "conv2.bias"):
        p = dict(net.named_parameters())[name]
        for idx in [(0,) * p.dim(), tuple(s - 1 for s in p.shape)]:
            original = p.data[idx].item()
            p.data[idx] = original + eps
            up = meta_loss().item()
            p.data[idx] = original - eps
            down = meta_loss().item()
            p.data[idx] = original
            fd = (up - down) / (2 * eps)
            assert p.grad[idx].item() == pytest.approx(fd, rel=1e-5, abs=1e-10), name


def test_first_order_builds_no_second_order_graph_and_differs():
    net, meta_loss = _tiny_problem(second_order=False)
    meta_loss().backward()
    first = {n: p.grad.clone() for n, p in net.named_parameters()}
    net2, meta_loss2 = _tiny_problem(second_order=True)
    meta_loss2().backward()
    assert any(not torch.allclose(first[n], p.grad) for n, p in net2.named_parameters())
    # first order: the inner gradient is detached, so the fast weights hang off theta by a plain subtraction
    params = params_of(net, is_instance_norm)
    loss = call(net, params, torch.rand(1, 3, 8, 8).double()).sum()
    new = inner_step(params, loss, 0.1, differentiable=False)
    assert all(t.grad_fn.name() == "SubBackward0" for t in new.values())
    # and the step itself, seen from theta, is the identity (no path through the inner gradient)
    jac = torch.autograd.grad(sum(t.sum() for t in new.values()), list(params.values()))
    assert all(torch.equal(j, torch.ones_like(j)) for j in jac)


def _synthetic_tasks(loss_net, spec, n_tasks=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    support, query = torch.rand(2, 3, size, size, generator=g), torch.rand(2, 3, size, size, generator=g)
    styles = [torch.rand(1, 3, size, size, generator=g) * torch.rand(1, 3, 1, 1, generator=g)
              for _ in range(n_tasks)]
    return [Task(style_targets(loss_net, s, spec), [support], query) for s in styles]


def test_meta_steps_lower_the_query_loss(random_vgg):
    torch.manual_seed(0)
    net, spec = TransformerNet(), LossSpec(style_weight=1e5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)  # 1e-3 oscillates from a random init
    tasks = _synthetic_tasks(random_vgg, spec)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        losses.append(meta_step(net, random_vgg, spec, tasks, inner_lr=1e-5, steps=1,
                                include=is_instance_norm)["query_loss"])
        opt.step()
    assert losses[-1] < 0.8 * losses[0]


def _tiny_set(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    from metastyle.data.images import to_pil

    return ImageSet([Item(f"c{i}", None, to_pil(torch.rand(3, size, size, generator=g))) for i in range(n)], size)


def test_adaptation_lowers_the_style_loss(random_vgg):
    torch.manual_seed(0)
    net, spec = TransformerNet(), LossSpec(style_weight=1e5)
    style = torch.rand(1, 3, 32, 32) * torch.tensor([1.0, 0.2, 0.1]).view(1, 3, 1, 1)
    history = []
    adapted, _ = fit_style(net, Objective(random_vgg, spec), style, _tiny_set(), steps=15, lr=1e-3, batch=2,
                           params="all", seed=0, callback=history.append)
    assert history[-1].style < 0.5 * history[0].style
    assert not torch.equal(adapted.conv1.conv.weight, net.conv1.conv.weight)  # a copy was trained


def test_fit_style_takes_unset_settings_from_the_context_s_config_and_refuses_them_without_one(random_vgg):
    from metastyle.method.context import make_context

    cfg = config.load("smoke")
    ctx = make_context(cfg, with_data=False, loss_net=random_vgg)
    net, style, contents = TransformerNet(), torch.rand(1, 3, 32, 32), _tiny_set()
    a = cfg.adapt
    implicit, _ = fit_style(net, ctx, style, contents, steps=2)
    explicit, _ = fit_style(net, Objective(random_vgg, ctx.spec), style, contents, steps=2, lr=a.lr,
                            batch=a.batch, params=a.params, seed=cfg.run.seed)
    assert all(torch.equal(x, y) for x, y in zip(implicit.state_dict().values(), explicit.state_dict().values()))
    assert next(implicit.parameters()).device == ctx.device
    with pytest.raises(MetaStyleError, match=r"^fit_style: pass lr= \(an Objective has no config"):
        fit_style(net, Objective(random_vgg, ctx.spec), style, contents, steps=2, batch=2, params="all", seed=0)


def test_stylize_keeps_size_and_range_for_any_size():
    torch.manual_seed(0)
    net = TransformerNet().eval()
    for h, w in ((17, 33), (32, 32), (50, 21)):
        y = stylize(net, torch.rand(1, 3, h, w))
        assert y.shape == (1, 3, h, w) and 0 <= y.min() and y.max() <= 1
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(stylize(net, x), net(x), atol=1e-6)


def test_meta_train_resume_reproduces_the_uninterrupted_trajectory(tmp_path):
    base = {"meta.iterations": 4, "meta.ckpt_every": 2, "data.n_styles": 6}
    cfg = config.load("smoke", base)
    meta_train(cfg, tmp_path / "full", progress=False)
    meta_train(config.load("smoke", base | {"meta.iterations": 2}), tmp_path / "split", progress=False)
    meta_train(cfg, tmp_path / "split", resume=True, progress=False)
    full, split = read_csv(tmp_path / "full" / "log.csv"), read_csv(tmp_path / "split" / "log.csv")
    key = ("step", "inner_loss", "query_loss")
    assert [tuple(r[k] for k in key) for r in full] == [tuple(r[k] for k in key) for r in split]
    assert [int(r["step"]) for r in split] == [1, 2, 3, 4]
    from metastyle.method.nets import load_model

    a, _ = load_model(tmp_path / "full" / "theta.pt")
    b, meta = load_model(tmp_path / "split" / "theta.pt")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert meta["loss_net"]["name"] == "vgg16-caffe" and meta["config"]["profile"] == "smoke"
    # the inner step left at 0 in the profile is the loss network's calibrated default, in the loop too
    from metastyle.method.context import LOSS_NET_DEFAULTS

    assert cfg.meta.inner_lr == 0
    assert meta["config"]["meta"]["inner_lr"] == LOSS_NET_DEFAULTS["vgg16-caffe"]["inner_lr"]
    assert float(full[0]["inner_lr"]) == LOSS_NET_DEFAULTS["vgg16-caffe"]["inner_lr"]


def test_config_profiles_are_diffs_and_bad_keys_fail():
    paper = config.load("paper")
    assert paper.meta.iterations == 100_000 and paper.meta.inner_params == "in" and paper.meta.second_order
    assert paper.adapt == config.AdaptCfg()
    smoke = config.load("smoke", {"meta.iterations": "7"})
    assert smoke.meta.iterations == 7 and smoke.loss.loss_net == "vgg16-caffe"
    assert config.from_dict(smoke.to_dict()) == smoke
    for bad in ({"meta.nope": 1}, {"meta.iterations": "many"}, {"meta.inner_lr": -1.0},
                {"meta.outer_lr": float("nan")}, {"meta.batch": 0}, {"loss.norm": "l1"}):
        with pytest.raises(config.ConfigError):
            config.load("smoke", bad)
    with pytest.raises(config.ConfigError, match="unknown profile"):
        config.load("huge")
    assert all(k in config.keys() for p in config.PROFILES.values() for k in p)


def test_config_seed_zero_keeps_the_profile_s_seed_and_any_other_overrides_it():
    """The notebooks' SEED parameter: 0 keeps ``run.seed``, any other value wins over the overrides' too."""
    assert config.load("quick", seed=0).run.seed == config.load("quick").run.seed != 7
    assert config.load("quick", {"run.seed": 3}, seed=7).run.seed == 7
    assert config.load("quick", {"run.seed": 3}, seed=0).run.seed == 3



def test_every_profile_has_study_sizes_and_they_stay_out_of_the_run_keys(monkeypatch):
    from metastyle.study.shared import config_key

    assert list(config.STUDY_SIZES) and set(config.STUDY_SIZES) == set(config.PROFILES)
    sections = [f.name for f in dataclasses.fields(config.Config)]
    assert sections == ["data", "loss", "meta", "adapt", "run", "profile"]  # no study-size section
    assert config.StudySizes not in config._field_types(config.Config).values()
    names = {f.name for f in dataclasses.fields(config.StudySizes)}
    for profile in config.PROFILES:
        assert isinstance(config.study_sizes(profile), config.StudySizes)
        cfg = config.load(profile)
        d = cfg.to_dict()
        assert list(d) == sections and not names & {k for v in d.values() if isinstance(v, dict) for k in v}
        key = config_key(d)
        monkeypatch.setitem(config.STUDY_SIZES, profile, {"johnson_factor": 99, "compare_styles": 99})
        assert config_key(config.load(profile).to_dict()) == key  # the sizes never enter a run folder's key
        assert config.johnson_steps(cfg) == 99 * cfg.adapt.steps  # the one Johnson policy reads the table
    with pytest.raises(config.ConfigError, match="no study sizes for profile 'huge'"):
        config.study_sizes("huge")


def test_quick_and_smoke_study_sizes_are_those_of_the_committed_results():
    # the numbers the notebooks used before they moved to config.STUDY_SIZES (results/*/quick stay valid)
    for profile, want in {"quick": (2, 300, 7, True, 5, True, 5, 20, 4),
                          "smoke": (1, 10, 1, False, 1, False, 3, 2, 4)}.items():
        s = config.study_sizes(profile)
        assert (s.compare_styles, config.johnson_steps(config.load(profile)), s.timing_reps, s.time_arbitrary,
                s.gatys_timed_steps, s.gatys_rescale, s.interpolation_grid, s.video_gatys_steps,
                s.preview_images) == want, profile
    assert config.study_sizes("paper").compare_styles is None  # all held-out styles
    assert config.johnson_steps(config.load("paper")) == 4 * 200

def test_paper_norm_differs_from_official_by_channel_squared(random_vgg):
    x, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    official, paper = LossSpec(style_weight=1.0), LossSpec(style_weight=1.0, norm="paper")
    feats = content_targets(random_vgg, x, official)
    lo = perceptual_loss(random_vgg, x, feats, style_targets(random_vgg, s, official), official)
    lp = perceptual_loss(random_vgg, x, feats, style_targets(random_vgg, s, paper), paper)
    assert lp.style > lo.style * 64 ** 2 * 0.99  # every layer has >= 64 channels
    assert dataclasses.replace(official, norm="paper") == paper
