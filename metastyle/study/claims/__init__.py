"""The paper's claims, one slice each (docs/paper-vs-code.md §6): a module per claim or group of claims, holding
the typed record it reads from its notebook's ``metrics.json``, the named thresholds beside its rule, the rule
(``Verdict``) and, where a number that decides the verdict is computed, ``measure`` (called by the notebook).

Every module of this package that defines ``CLAIMS`` (a tuple of ``base.Claim``) is registered: adding a claim is
writing one module; ``study.report`` loops over ``registry()`` and names no claim itself.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Callable

from metastyle.errors import MetaStyleError
from metastyle.study.claims.base import LONG, Claim, Read, Source, Verdict


def registry() -> list[Claim]:
    """Every registered claim, by number (the package's modules with ``CLAIMS``)."""
    found = []
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        found += list(getattr(module, "CLAIMS", ()))
    return sorted(found, key=lambda c: c.number)


def read(source: Source, metrics: Callable[[str, str], dict], profile: str,
         runs: Callable[[str, str], dict] | None = None) -> Read:
    """``source`` from the first of its profiles whose notebook has metrics (else the first profile, empty)."""
    return read_all(source, metrics, profile, runs)[0]


def read_all(source: Source, metrics: Callable[[str, str], dict], profile: str,
             runs: Callable[[str, str], dict] | None = None) -> list[Read]:
    """``source`` under each of its profiles whose notebook has metrics, in the order of ``profiles`` (a list of
    one empty ``Read`` when none has)."""
    profiles = list(dict.fromkeys(profile if p is None else p for p in source.profiles))
    found = []
    for p in profiles:
        m = metrics(source.notebook, p)
        if m:
            found.append(Read(source.record.from_metrics(m), p, True,
                              (runs(source.notebook, p) if runs else None) or {}))
    return found or [Read(source.record.from_metrics({}), profile if None in source.profiles else profiles[0],
                          False)]


def _readings(claim: Claim, metrics, profile: str, runs) -> list[list[Read]]:
    """One list of reads per judgement of ``claim``: one, or one per profile of its ``every`` source with results."""
    every = [i for i, s in enumerate(claim.sources) if s.every]
    if len(every) > 1:
        raise MetaStyleError(f"claim {claim.number}: at most one source may be read under every profile")
    reads = [read(s, metrics, profile, runs) for s in claim.sources]
    if not every:
        return [reads]
    i = every[0]
    return [reads[:i] + [r] + reads[i + 1:] for r in read_all(claim.sources[i], metrics, profile, runs)]


def judge(metrics: Callable[[str, str], dict], profile: str,
          runs: Callable[[str, str], dict] | None = None) -> tuple[list[Verdict], list[str], dict[str, dict]]:
    """Every registered claim judged on ``metrics(notebook, profile) -> dict`` (empty when the notebook did not
    run there). Returns the verdicts, the claims' header notes, and the ``run.json`` of every source read from
    another profile that must share the report's DATA (``Source.same_data``), keyed ``notebook@profile``."""
    verdicts, notes, same_data = [], [], {}
    for claim in registry():
        for reads in _readings(claim, metrics, profile, runs):
            verdicts.append(dataclasses.replace(claim.judge(*reads), claim=claim.number))
            if claim.note:
                notes.append(claim.note(*reads))
            for s, r in zip(claim.sources, reads):
                if s.same_data and r.found and r.profile != profile:
                    same_data[f"{s.notebook}@{r.profile}"] = r.run
    return verdicts, notes, same_data


__all__ = ["LONG", "Claim", "Read", "Source", "Verdict", "judge", "read", "read_all", "registry"]
