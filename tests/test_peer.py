"""The side-by-side with pytorch/examples (``metastyle.study.lab.peer``): what it prepares, never their code."""
import pytest
import torch
from PIL import Image
from torchvision import datasets, models

from metastyle.errors import MetaStyleError
from metastyle.method.vgg import load_loss_net
from metastyle.study.lab import peer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def hub_file(tmp_path_factory):
    return peer.write_hub_cache(tmp_path_factory.mktemp("torch_home"))


def test_hub_file_is_small_and_holds_every_vgg16_key(hub_file):
    state = torch.load(hub_file, weights_only=True)
    with torch.device("meta"):
        ref = models.vgg16().state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in ref.items()}
    assert hub_file.name == peer.HUB_FILE == models.VGG16_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    assert hub_file.stat().st_size < 80 * 2**20  # the 123M classifier weights are one broadcast zero


@pytest.mark.slow
def test_torchvision_loads_it_strictly_and_computes_our_features(hub_file, monkeypatch):
    """What their ``Vgg16`` does: ``vgg16(weights=IMAGENET1K_V1)`` from the hub cache (strict load, no download),
    then torchvision-normalised input; relu1_2 equals vgg16-caffe's away from conv1_1's zero-padded border."""
    monkeypatch.setenv("TORCH_HOME", str(hub_file.parents[2]))
    net = models.vgg16(weights=models.VGG16_Weights.IMAGENET1K_V1).features.eval()
    ours = load_loss_net("vgg16-caffe", ("relu1_2", "relu4_3"))
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mean, std = torch.tensor(peer.IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(peer.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        theirs = net[:4]((x - mean) / std)
        ref = ours(x)["relu1_2"]
    inner = (..., slice(2, -2), slice(2, -2))
    torch.testing.assert_close(theirs[inner], ref[inner], rtol=1e-4, atol=1e-4)
    assert (theirs - ref).abs().max() < 0.05 * ref.abs().max()  # the border differs, a little


def test_dataset_has_exactly_steps_times_batch_images(tmp_path):
    cls = peer.write_dataset(tmp_path / "data-3", 3 * 2, 32)
    files = sorted(cls.iterdir())
    assert len(files) == 6 and all(Image.open(f).size == (32, 32) for f in files)
    ds = datasets.ImageFolder(str(tmp_path / "data-3"))
    assert len(ds) == 6 and len(torch.utils.data.DataLoader(ds, batch_size=2)) == 3  # their loop: 3 steps
    peer.write_dataset(tmp_path / "data-3", 2, 32)  # rewritten, never added to
    assert len(list(cls.iterdir())) == 2


def _fake_checkout(root):
    script = root / "fast_neural_style" / "neural_style" / "neural_style.py"
    script.parent.mkdir(parents=True)
    script.write_text("# stands in for their script; never run here\n")
    return script


def test_prepare_writes_the_plan_and_same_settings_on_both_sides(tmp_path, monkeypatch):
    monkeypatch.setattr(peer, "write_hub_cache", lambda home: home / "hub" / "checkpoints" / peer.HUB_FILE)
    script = _fake_checkout(tmp_path / "examples")
    plan = peer.prepare(tmp_path / "examples", tmp_path / "work", size=32, style_size=48, batch=2, steps=(1, 2))
    assert plan["script"] == str(script)
    assert Image.open(plan["style"]).size == (48, 48)
    for n in (1, 2):
        assert len(list((tmp_path / "work" / f"data-{n}" / "photos").iterdir())) == 2 * n
        cmds = peer.commands(plan, n)
        theirs, ours = cmds["theirs"]["argv"], cmds["ours"]["argv"]
        flag = lambda argv, name: argv[argv.index(name) + 1]  # noqa: E731
        assert theirs[1] == str(script) and theirs[2] == "train" and "--accel" not in theirs
        assert flag(theirs, "--epochs") == "1" and "--style-size" not in theirs
        assert flag(theirs, "--dataset") == str(tmp_path / "work" / f"data-{n}")
        assert flag(ours, "--contents") == str(tmp_path / "work" / f"data-{n}" / "photos")
        assert flag(ours, "--adapt.steps") == str(n) and flag(ours, "--loss-net") == "vgg16-caffe"
        assert flag(theirs, "--batch-size") == flag(ours, "--adapt.batch") == "2"
        assert flag(theirs, "--image-size") == flag(ours, "--adapt.content_size") == "32"
        assert flag(ours, "--adapt.style_size") == "48" and flag(theirs, "--style-image") == plan["style"]
        assert float(flag(theirs, "--style-weight")) == float(flag(ours, "--loss.style_weight")) == 1e5
        assert float(flag(theirs, "--content-weight")) == float(flag(ours, "--loss.content_weight")) == 1.0
        assert cmds["theirs"]["env"] == {"TORCH_HOME": str(tmp_path / "work" / "torch_home")}
    from metastyle.method.nets import load_model

    load_model(plan["theta"])  # what `metastyle adapt --theta` reads


def test_their_code_must_stay_outside_the_project(tmp_path, monkeypatch):
    with pytest.raises(MetaStyleError, match="no fast_neural_style"):
        peer.find_script(tmp_path)
    _fake_checkout(tmp_path / "project" / "vendor")
    monkeypatch.setattr(peer, "ROOT", tmp_path / "project")  # a checkout inside the project is refused
    with pytest.raises(MetaStyleError, match="inside this project"):
        peer.find_script(tmp_path / "project" / "vendor")
    _fake_checkout(tmp_path / "outside")
    with pytest.raises(MetaStyleError, match="two increasing"):
        peer.prepare(tmp_path / "outside", tmp_path / "w", size=32, style_size=32, batch=2, steps=(3, 3))


def test_run_takes_per_step_time_from_two_step_counts(monkeypatch):
    """Start-up (different per side) cancels; the untimed warm-up round is not counted."""
    plan = {"work": "/w", "script": "/x/neural_style.py", "size": 32, "style_size": 32, "batch": 2, "steps": [2, 6],
            "style": "/w/style.png", "theta": "/w/theta.pt"}
    calls = []

    def fake(cmd):
        theirs = cmd["argv"][2] == "train"
        n = int(cmd["argv"][cmd["argv"].index("--dataset" if theirs else "--adapt.steps") + 1].rsplit("-", 1)[-1])
        calls.append(("theirs" if theirs else "ours", n))
        wall = (7.0 + 3.0 * n) if theirs else (11.0 + 2.0 * n)  # start-up 7 / 11 s; 3 / 2 s per step
        return {"rc": 0, "wall_s": wall, "cpu_s": 2 * wall, "max_rss_kib": 1, "tail": []}

    monkeypatch.setattr(peer, "run_one", fake)
    out = peer.run(plan, repeats=2, warmup=1)
    assert calls[:2] == [("theirs", 2), ("ours", 2)] and len(calls) == 2 + 2 * 4
    assert out["s_per_step"]["theirs"]["wall_s"] == pytest.approx(3.0)
    assert out["s_per_step"]["ours"]["wall_s"] == pytest.approx(2.0)
    assert out["theirs_over_ours"]["wall_s"] == pytest.approx(1.5) and out["valid"] is True
