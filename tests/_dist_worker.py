"""Run by torchrun in tests/test_distributed.py: meta-train, then save this rank's parameters."""
import sys
from pathlib import Path

import torch

from metastyle import config
from metastyle.method import meta

out, overrides = Path(sys.argv[1]), dict(a.split("=", 1) for a in sys.argv[2:])
net, _ = meta.meta_train(config.load("smoke", overrides), out, progress=False)
import os  # noqa: E402

torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, out / f"rank{os.environ['RANK']}.pt")
