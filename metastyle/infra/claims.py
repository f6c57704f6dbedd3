"""No write without a claim (docs/reliability.md, "Guarantees"): the checks every command makes before it
writes anything.

- ``check_output``: an output file is refused if it exists (unless ``--overwrite``), if it is one of the
  command's own inputs (always, ``--overwrite`` or not), or if two outputs of one command are the same file.
- ``make_folder``: ``mkdir -p`` whose failures say what is wrong ("is a file, not a folder").
- ``regular_files``: a run folder's files are regular files or absent, never symbolic links or FIFOs.
- ``locked``: a run folder is locked (``fcntl.flock`` on ``RUN/.lock``) while a run writes to it; a second run
  into the same folder is refused at once. The lock file goes when the run ends, however it ends.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from metastyle.errors import MetaStyleError

LOCK_FILE = ".lock"


def same_file(a: str | Path, b: str | Path) -> bool:
    """``a`` and ``b`` name one file: the same inode (hard or symbolic links), or the same resolved path."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str | Path, *, overwrite: bool = False, what: str = "output",
                 inputs: Iterable[str | Path | None] = (), others: Iterable[str | Path] = ()) -> Path:
    """``checkpoint.check_output`` (the folder exists and accepts a file; an existing output needs
    ``overwrite``), after refusing an output that is one of ``inputs`` (even with ``overwrite``: a command
    never destroys what it reads) or the same file as one of its ``others`` outputs."""
    from metastyle.infra.checkpoint import check_output as writable

    path = Path(path)
    for given in inputs:
        if given is not None and str(given) and same_file(path, given):
            raise MetaStyleError(f"{what} {path} is the command's own input {given}; it would be destroyed "
                                 f"(--overwrite never replaces an input): choose another output name")
    for other in others:
        if same_file(path, other):
            raise MetaStyleError(f"{what} {path} and {other} are the same file; give another name")
    return writable(path, overwrite=overwrite, what=what)


def make_folder(path: str | Path, what: str = "folder") -> list[Path]:
    """``mkdir -p path``; returns the folders it created. A file in the way is named as such."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                raise MetaStyleError(f"{what} {path}: {p} is a file, not a folder")
            break
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MetaStyleError(f"cannot create {what} {path}: {err.strerror or err}") from None
    return created


def regular_files(folder: str | Path, names: Iterable[str]) -> None:
    """Each of ``folder/name`` is a regular file or absent: a symbolic link (even a dangling one), FIFO or
    device would send the run's writes elsewhere."""
    for name in names:
        p = Path(folder) / name
        try:
            mode = os.lstat(p).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise MetaStyleError(f"{p} is a symbolic link; a run folder's files must be regular files "
                                 f"(remove the link)")
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise MetaStyleError(f"{p} is not a regular file; remove it")


@contextlib.contextmanager
def locked(folder: str | Path, *, enabled: bool = True, what: str = "run folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if missing) while the block runs.

    Another process holding it is refused at once, naming its pid. The lock is released (and its file
    removed) when the block ends, by an exception too; a killed process releases it with its file descriptor.
    A folder this call created and the run left empty is removed again (nothing left behind).
    """
    folder = Path(folder)
    if not enabled:
        yield folder
        return
    created = make_folder(folder, what)
    path = folder / LOCK_FILE
    fd = _acquire(path, folder, what)
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        for p in created:
            with contextlib.suppress(OSError):
                p.rmdir()  # only when empty


def _acquire(path: Path, folder: Path, what: str) -> int:
    regular_files(folder, [LOCK_FILE])
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as err:
            raise MetaStyleError(f"cannot lock {what} {folder}: {err.strerror or err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = _read_pid(fd)
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                by = f" (pid {holder})" if holder else ""
                raise MetaStyleError(f"{what} {folder} is in use by another run{by}; wait for it to end, or "
                                     f"write elsewhere") from None
            raise MetaStyleError(f"cannot lock {what} {folder}: {err.strerror or err}") from None
        try:  # the holder before us may have removed the file between our open and our lock: retry
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
