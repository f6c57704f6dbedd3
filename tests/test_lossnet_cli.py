"""Loss-network policy and the CLI end to end (offline, embedded data)."""
import json
import warnings

import pytest
import torch
from torchvision import models

from metastyle.app import cli
from metastyle.method.vgg import LossNetUnavailable, load_loss_net


def test_random_loss_net_is_seeded_and_labelled():
    a, b, c = (load_loss_net("vgg16-random", seed=s) for s in (0, 0, 1))
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(a(x)["relu4_3"], b(x)["relu4_3"]) and not torch.equal(a(x)["relu4_3"], c(x)["relu4_3"])
    assert a.info.name == "vgg16-random" and not a.info.fallback and not a.info.pretrained
    assert "random-init" in a.info.label()


def test_explicit_torchvision_request_fails_and_names_the_offline_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty hub cache
    monkeypatch.setenv("METASTYLE_OFFLINE", "1")
    with pytest.raises(LossNetUnavailable, match="--loss-net vgg16-caffe"):
        load_loss_net("vgg16")


def test_local_weights_file_is_the_real_path(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "vgg16.pth"
    torch.save(models.vgg16(weights=None).state_dict(), path)
    net = load_loss_net("vgg16", weights=path)
    assert net.info.name == "vgg16" and net.info.pretrained and net.info.source == str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_loss_net("auto", weights=path).info.fallback is False


def test_cli_train_adapt_stylize_end_to_end(tmp_path, capsys):
    from metastyle.data.images import save_image

    run = tmp_path / "run"
    assert cli.main(["train", "--profile", "smoke", "--out", str(run), "--no-progress",
                     "--meta.iterations", "2"]) == 0
    style = save_image(torch.rand(3, 40, 40), tmp_path / "style.png")
    model = tmp_path / "adapted.pt"
    assert cli.main(["adapt", str(style), "--theta", str(run / "theta.pt"), "-o", str(model), "--profile",
                     "smoke", "--no-progress"]) == 0
    content = save_image(torch.rand(3, 37, 50), tmp_path / "content.jpg")
    assert cli.main(["stylize", str(content), "--model", str(model), "-o", str(tmp_path / "out"), "--mkdir"]) == 0
    from metastyle.data.images import load_image

    assert load_image(tmp_path / "out" / "content.png").size == (50, 37)
    capsys.readouterr()
    assert cli.main(["info", "--profile", "smoke", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["transformer_parameters"] == 1_679_235 and info["loss_network"]["name"] == "vgg16-caffe"
    assert cli.main(["stylize", str(content), "--model", str(tmp_path / "missing.pt"), "-o", str(tmp_path)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
