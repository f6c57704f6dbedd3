"""Progress of long loops (meta-training, adaptation) a person can follow, in a terminal and in a log.

``bar(iterable, total=..., desc=...)`` is a tqdm bar when stderr is a terminal, and otherwise (a papermill
kernel streamed by ``make reproduce``, a log file, a notebook) a ``Ticker``: a few plain lines on stderr with
the step, the rate and an ETA, e.g. ``meta-train: 40/200 (20%) 1.31 s/it, ETA 3m29s``. Ticker lines come
every ``every`` steps (default: a tenth of the run) but no more often than every ``min_seconds``, plus the
last step; never one line per step. See docs/performance.md.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, TextIO


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def rate_text(done: int, elapsed: float) -> str:
    """``1.31 s/it`` when slower than one step a second, else ``7.6 it/s``."""
    if done <= 0 or elapsed <= 0:
        return "? it/s"
    per = elapsed / done
    return f"{per:.3g} s/it" if per >= 1 else f"{1 / per:.3g} it/s"


class Ticker:
    """Iterates ``iterable`` and prints a progress line now and then (see the module docstring)."""

    def __init__(self, iterable: Iterable, total: int, desc: str = "", initial: int = 0, every: int = 0,
                 min_seconds: float = 5.0, stream: TextIO | None = None, disable: bool = False):
        self.iterable, self.total, self.desc, self.initial = iterable, int(total), desc, int(initial)
        self.every = every or max(1, (self.total - self.initial) // 10)
        self.min_seconds, self.stream, self.disable = min_seconds, stream, disable
        self.postfix = ""
        self.lines: list[str] = []

    def set_postfix(self, **kw) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in kw.items())

    def line(self, step: int, elapsed: float) -> str:
        done = step - self.initial
        pct = f" ({100 * step / self.total:.0f}%)" if self.total else ""
        eta = elapsed / done * (self.total - step) if done > 0 else float("nan")
        eta_text = _clock(eta) if eta == eta else "?"
        tail = f" {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {step}/{self.total}{pct} {rate_text(done, elapsed)}, ETA {eta_text}{tail}"

    def _emit(self, text: str) -> None:
        self.lines.append(text)
        print(text, file=self.stream or sys.stderr, flush=True)

    def __iter__(self):
        t0 = last = time.perf_counter()
        step = self.initial
        for item in self.iterable:
            yield item
            step += 1
            now = time.perf_counter()
            due = (step - self.initial) % self.every == 0 and now - last >= self.min_seconds
            if not self.disable and (due or step == self.total):
                self._emit(self.line(step, now - t0))
                last = now


def bar(iterable: Iterable, *, total: int, desc: str = "", initial: int = 0, disable: bool = False, **kw):
    """A tqdm bar on an interactive terminal, else a ``Ticker`` (plain lines with rate and ETA)."""
    stream = sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, initial=initial, disable=disable)
    return Ticker(iterable, total, desc, initial, disable=disable, **kw)
