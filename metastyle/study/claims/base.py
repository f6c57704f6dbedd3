"""What every claim slice is made of (``study/claims/<slice>.py``; docs/ARCHITECTURE.md).

- ``Record``: a notebook's ``metrics.json`` as a typed dataclass. Each field reads the key of its name (or the
  ``key`` in its metadata, ``key(...)``); a missing key is ``None`` (or the field's empty default), and the rule
  says "not testable". ``keys(record)`` lists the keys, which tests/test_claims.py checks the producer writes.
- ``Source``: the notebook a record comes from, under the report's profile or the first of ``profiles`` that has
  results.
- ``Claim``: a claim's number, its sources and ``judge(*reads) -> Verdict``, one ``Read`` per source.
- ``Verdict``: statement, verdict, measured, rule and the profile it comes from.

Verdicts: ``holds``, ``does not hold``, ``inconclusive`` (a measured 95% interval straddles the rule's threshold),
``not testable at this scale`` and ``visual`` (claim 6: the measured parts hold, a failure mode is left to the eye).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from metastyle.study import stats

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = stats.HOLDS, stats.FAILS, stats.INCONCLUSIVE, stats.UNTESTABLE
VISUAL = "visual"
#: where the notebooks that do not run under ``quick`` (11, 12, and 03 with the baselines' planned schedules) run
LONG = "long"
#: the budget curve and the ablations at quick's β 5e3, where 64-px outputs keep the photo (config.py, issue 19)
LONG_B5E3 = "long-b5e3"


@dataclass(frozen=True)
class Verdict:
    statement: str
    verdict: str
    measured: str
    rule: str
    profile: str = ""
    claim: int = 0

    def at(self, profile: str) -> Verdict:
        return dataclasses.replace(self, profile=profile)

    def row(self) -> dict:
        """The dict REPORT.md and notebook 10 read: claim, statement, verdict, measured, rule, profile."""
        return {"claim": self.claim, "statement": self.statement, "verdict": self.verdict,
                "measured": self.measured, "rule": self.rule, "profile": self.profile}


def key(name: str, default: Any = None, *, factory: Callable[[], Any] | None = None):
    """A record field that reads the metrics key ``name`` (for keys that are not identifiers, or not lower case)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"key": name})
    return field(default=default, metadata={"key": name})


@dataclass(frozen=True)
class Record:
    """Base of the typed records: ``from_metrics(metrics.json as a dict)``."""
    notebook: ClassVar[str] = ""

    @classmethod
    def from_metrics(cls, m: dict):
        values = {}
        for f in dataclasses.fields(cls):
            v = m.get(f.metadata.get("key", f.name))
            if v is None and f.default_factory is not dataclasses.MISSING:
                v = f.default_factory()
            elif v is None and f.default is not dataclasses.MISSING:
                v = f.default
            values[f.name] = v
        return cls(**values)


def keys(record: type[Record]) -> list[str]:
    """The top-level ``metrics.json`` keys ``record`` reads."""
    return [f.metadata.get("key", f.name) for f in dataclasses.fields(record)]


@dataclass(frozen=True)
class Source:
    """``record`` read from its notebook's ``metrics.json``, under the first profile of ``profiles`` that has it
    (``None``: the report's own profile); ``same_data``: its ``run.json`` must name the report's DATA.
    ``every``: read under *each* of ``profiles`` that has it, and the claim is judged once per such profile (one
    verdict each, naming its profile: the budget curve at the paper's β and at quick's); at most one such source
    per claim."""
    record: type[Record]
    profiles: tuple[str | None, ...] = (None,)
    same_data: bool = False
    every: bool = False

    @property
    def notebook(self) -> str:
        return self.record.notebook


@dataclass(frozen=True)
class Read:
    """One source as the report found it: the record, the profile it was read under, whether that notebook had
    results there, and its ``run.json``."""
    record: Any
    profile: str
    found: bool
    run: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    number: int
    sources: tuple[Source, ...]
    judge: Callable[..., Verdict]  # one Read per source
    #: an optional line for the report's header, from the same reads (e.g. the budget curve's scale)
    note: Callable[..., str] | None = None


def single(rule: Callable[[Any], Verdict]) -> Callable[[Read], Verdict]:
    """``judge`` of a claim with one source: ``rule(record)``, from that source's profile."""
    return lambda r: rule(r.record).at(r.profile)


def need(*vals) -> bool:
    return all(v is not None for v in vals)


def untestable(statement: str, measured: str, rule: str) -> Verdict:
    return Verdict(statement, UNTESTABLE, measured, rule)


def combine(*verdicts: str) -> str:
    """All parts of a claim: does not hold if one part does not; holds if all do; else inconclusive (or not
    testable, when no part could be measured)."""
    if FAILS in verdicts:
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE if any(v in (HOLDS, INCONCLUSIVE) for v in verdicts) else UNTESTABLE
