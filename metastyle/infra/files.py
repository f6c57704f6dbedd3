"""Files written atomically: a temporary name beside the target, renamed onto it only when the write succeeds.

``atomic_path`` is the one mechanism (docs/reliability.md, "Nothing half-written"); ``write_text``,
``write_json`` and ``write_csv`` are the writers every module uses for text, JSON records and CSV tables.
A failed write leaves the previous file as it was and no temporary file behind.
"""
from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from metastyle.errors import MetaStyleError

TMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name carries the writer's pid, so a file left by a killed writer (``SIGKILL``) is removed
    by the next write of the same ``path``. The result gets the usual mode (``0666 & ~umask``), not the
    ``0600`` of ``mkstemp``. See docs/reliability.md.
    """
    with atomic_paths(path) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(*paths: str | Path, suffix: str = TMP_SUFFIX) -> Iterator[list[Path]]:
    """``atomic_path`` for outputs that land together (an image and its record): one temporary per path,
    all renamed only when the block has written every one, so a failure (a full disk) leaves none of them.
    If a rename fails, the outputs already renamed are removed again. ``suffix``: of the temporary names."""
    paths = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for path in paths:
            tmps.append(_temporary(path, suffix))
        yield tmps
        done = []
        for tmp, path in zip(tmps, paths):
            try:
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, path)
            except OSError as err:
                for written in done:
                    written.unlink(missing_ok=True)
                raise MetaStyleError(f"cannot write {path}: {err.strerror or err}") from None
            done.append(path)
    except OSError as err:
        raise MetaStyleError(f"cannot write {paths[len(tmps) - 1] if tmps else paths[0]}: "
                             f"{err.strerror or err}") from None
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def _temporary(path: Path, suffix: str = TMP_SUFFIX) -> Path:
    """An empty ``.NAME.pidN.XXXX<suffix>`` beside ``path`` (stale ones of dead writers removed first)."""
    if not path.parent.is_dir():
        raise MetaStyleError(f"output folder does not exist: {path.parent}")
    remove_stale_temporaries(path, suffix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=suffix, dir=path.parent)
    except OSError as err:
        raise MetaStyleError(f"cannot write to {path.parent}: {err.strerror or err}") from None
    os.close(fd)
    return Path(tmp)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_json(path: str | Path, obj, *, sort_keys: bool = False) -> Path:
    """Write ``obj`` as JSON (indent 1; values JSON cannot encode written as ``str(value)``) atomically."""
    return write_text(path, json.dumps(obj, indent=1, sort_keys=sort_keys, default=str))


def write_csv(path: str | Path, rows: Sequence[dict]) -> Path:
    """Write rows of dicts as CSV atomically: the header is the first row's keys (no rows: no columns).

    A row with a key the first row lacks is an error (``csv.DictWriter``), never a silently dropped column.
    """
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)
    return path


def tmp_prefix(path: Path) -> str:
    """Prefix of ``path``'s temporary files: ``.NAME.pidN.`` (N: this process)."""
    return f".{path.name}.pid{os.getpid()}."


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def remove_stale_temporaries(path: str | Path, suffix: str = TMP_SUFFIX) -> list[Path]:
    """Delete ``.NAME.pidN.*<suffix>`` files beside ``path`` whose writer (process N) no longer runs."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.pid*{glob.escape(suffix)}"):
        m = re.fullmatch(rf"\.{re.escape(path.name)}\.pid(\d+)\..*", tmp.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed
