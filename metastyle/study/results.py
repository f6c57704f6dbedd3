"""Where a notebook's outputs go: figures (png + pdf), tables (csv + md), images, ``metrics.json``, ``run.json``.

Every notebook makes one ``Recorder(OUT_DIR, cfg, ctx)`` and writes only through it, so each
``results/<notebook>/<profile>/`` folder carries the numbers, the figures and the provenance (config, seed,
git commit, versions, device, loss network, data source, wall time) that made them. Files are written
atomically; ``metrics.json`` refuses non-finite numbers (a NaN in a report is a bug, not a result).

Writes (in ``out_dir``): ``<name>.png``, ``<name>.pdf``, ``<name>.csv``, ``<name>.md``, ``metrics.json``,
``run.json``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from metastyle.errors import MetaStyleError
from metastyle.infra import runtime
from metastyle.infra.files import atomic_path, write_json, write_text


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_finite(metrics: dict) -> None:
    """Raise ``MetaStyleError`` if any number in ``metrics`` (nested) is NaN/inf or not a number/str/bool."""
    for key, v in _flatten(metrics).items():
        if isinstance(v, bool) or isinstance(v, str) or v is None:
            continue
        if isinstance(v, (list, tuple)):
            vals = v
        else:
            vals = [v]
        for i, x in enumerate(vals):
            if isinstance(x, (str, bool)) or x is None:
                continue
            if isinstance(x, dict):  # a list of records (e.g. one per snapshot)
                check_finite({f"{key}[{i}]": x})
                continue
            try:
                ok = math.isfinite(float(x))
            except (TypeError, ValueError):
                raise MetaStyleError(f"metric {key!r} is not a number: {x!r}") from None
            if not ok:
                raise MetaStyleError(f"metric {key!r} is not finite: {x!r}")


def _plain(v):
    """Tensors / numpy scalars -> python numbers for JSON."""
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


class Recorder:
    """Writes one notebook's outputs into ``out_dir`` (created if missing)."""

    def __init__(self, out_dir: str | Path, cfg=None, ctx=None, *, notebook: str = "", data: str = "",
                 seed: int | None = None):
        self.out = Path(out_dir or ".").resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.cfg, self.ctx, self.notebook, self.data, self.seed = cfg, ctx, notebook, data, seed
        self.t0 = time.perf_counter()
        self.metrics: dict[str, Any] = {}
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        return self.out / name

    def _wrote(self, p: Path) -> Path:
        self.files.append(p.name)
        return p

    def save_fig(self, fig, name: str, *, dpi: int = 110) -> Path:
        """``<name>.png`` and ``<name>.pdf``; returns the png path."""
        for ext in ("pdf", "png"):
            p = self.out / f"{name}.{ext}"
            with atomic_path(p) as tmp:
                fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")
            self._wrote(p)
        return p

    def save_table(self, df, name: str, *, floatfmt: str = ".4g") -> Path:
        """``<name>.csv`` and ``<name>.md`` (a pipe table); returns the csv path."""
        p = self.out / f"{name}.csv"
        with atomic_path(p) as tmp:
            df.to_csv(tmp, index=False)
        self._wrote(p)
        md = self.out / f"{name}.md"
        write_text(md, markdown_table(df, floatfmt) + "\n")
        self._wrote(md)
        return p

    def save_image(self, x, name: str) -> Path:
        from metastyle.data.images import save_image

        p = self.out / (name if "." in name else f"{name}.png")
        return self._wrote(save_image(x, p))

    def write_metrics(self, metrics: dict | None = None, **more) -> Path:
        """Merge into ``metrics.json`` (finite numbers only) and refresh ``run.json``."""
        new = _plain({**(metrics or {}), **more})
        check_finite(new)
        self.metrics.update(new)
        p = self.out / "metrics.json"
        write_json(p, self.metrics, sort_keys=True)
        self._wrote(p)
        self.write_run()
        return p

    def run_record(self) -> dict:
        rec: dict[str, Any] = {"notebook": self.notebook, "data": self.data,
                               "wall_seconds": round(time.perf_counter() - self.t0, 3)}
        if self.cfg is not None:
            rec["profile"] = self.cfg.profile
            rec["config"] = self.cfg.to_dict()
            rec["seed"] = self.cfg.run.seed if self.seed is None else self.seed
        if self.ctx is not None:
            rec.update(loss_net=self.ctx.loss_net.info.to_dict(), loss_net_label=self.ctx.loss_net.info.label(),
                       provenance=runtime.provenance(self.ctx.device))
        else:
            rec["provenance"] = runtime.provenance()
        rec["files"] = sorted(set(self.files))
        return rec

    def write_run(self) -> Path:
        return write_json(self.out / "run.json", self.run_record())


def markdown_table(df, floatfmt: str = ".4g") -> str:
    """A GitHub pipe table of ``df`` (no tabulate dependency)."""
    def cell(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else format(v, floatfmt)
        return str(v).replace("|", "\\|")

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def read_metrics(results_root: str | Path, notebook: str, profile: str) -> dict:
    """``results/<notebook>/<profile>/metrics.json`` as a dict ({} when absent)."""
    p = Path(results_root) / notebook / profile / "metrics.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def read_run(results_root: str | Path, notebook: str, profile: str) -> dict:
    p = Path(results_root) / notebook / profile / "run.json"
    return json.loads(p.read_text()) if p.is_file() else {}
