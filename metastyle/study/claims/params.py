"""Claim 1: the transformer has ≈1.68M parameters (1,679,235), the same as Johnson et al.'s (notebook 00)."""
from __future__ import annotations

from dataclasses import dataclass

from metastyle.study.claims.base import FAILS, HOLDS, UNTESTABLE, Claim, Record, Source, Verdict, single

#: the official network's parameter count
PAPER_PARAMS = 1_679_235


@dataclass(frozen=True)
class Setup(Record):
    notebook = "00_setup_and_data"
    n_params: int | None = None


def verdict(s: Setup) -> Verdict:
    n = s.n_params
    return Verdict("≈1.68M parameters (1,679,235), same as Johnson",
                   UNTESTABLE if n is None else HOLDS if n == PAPER_PARAMS else FAILS,
                   f"{n:,} parameters" if n is not None else "missing (00)", f"holds iff exactly {PAPER_PARAMS:,}")


CLAIMS = (Claim(1, (Source(Setup),), single(verdict)),)
