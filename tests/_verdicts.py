"""Crafted metrics through the claim registry: ``rows({"02_adaptation": {...}, "11_budget_curve@long": {...}})``
judges every registered claim, a key ``notebook`` meaning the report's own profile."""
from __future__ import annotations

from metastyle.study import claims


def rows(by_notebook: dict, profile: str = "quick", runs: dict | None = None) -> list[dict]:
    def lookup(table):
        return lambda nb, p: table.get(f"{nb}@{p}") or (table.get(nb, {}) if p == profile else {})

    verdicts, _, _ = claims.judge(lookup(by_notebook), profile, lookup(runs or {}))
    return [v.row() for v in verdicts]
