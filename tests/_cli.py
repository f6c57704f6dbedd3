"""Shared helpers for tests that run ``python -m metastyle`` in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env(**extra) -> dict:
    e = dict(os.environ, PYTHONPATH=str(ROOT), METASTYLE_OFFLINE="1", OMP_NUM_THREADS="1", **extra)
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(k, None)
    return e


def popen(args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "metastyle", *map(str, args)], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run(args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metastyle", *map(str, args)], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def trajectory(path: Path) -> list[list[str]]:
    """log.csv rows without the wall-time column (everything else must match exactly)."""
    import csv

    with Path(path).open(newline="") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("seconds")
    return [[v for i, v in enumerate(r) if i != drop] for r in rows]
