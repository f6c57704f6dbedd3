import os

import pytest
import torch

# Tests never touch the network for weights, nor a user's hub cache.
os.environ.setdefault("METASTYLE_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def random_vgg():
    from metastyle.method.vgg import VGG16_LAYERS, load_loss_net

    return load_loss_net("vgg16-random", VGG16_LAYERS)


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is as fast, and immune to a busy machine's OpenMP spin-wait contention."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
