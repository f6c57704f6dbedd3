"""Efficiency accounting: achieved FLOP rates against the machine's, as a table generated from a bench JSON.

``python -m metastyle.study.lab.efficiency results/bench/<slug>.json [...]`` writes ``<slug>-efficiency.md`` next to
each JSON (``metastyle bench`` does it after every run). One row per timed case: stylisation (each variant and
size; forward FLOPs from ``perf.count_flops``), the meta-iteration (each order and variant, the authors'-loop
mirror included) and the adaptation step (both counted as they run by ``perf.LayerFlops``). Columns: counted
GFLOP per call and its share in forward / backward / double backward, the median time, the achieved GFLOP/s,
that rate as a fraction of the machine's 3x3-convolution rate in fp32 and in bf16 measured in the same run
(``machine.conv3x3``, ``machine.conv3x3_bf16``), and ``conv bound``: the time those FLOPs would take at the
conv rate of each FLOP's own dtype, over the measured time (1 = every counted FLOP ran as fast as that conv).
A JSON written before schema 3 has no counts for meta and adapt: those rows say "not counted".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from metastyle.infra import files

PHASES = ("forward", "backward", "double_backward")


def rates(flops: dict, median_s: float, machine: dict) -> dict:
    """``gflops`` achieved, ``frac_conv_fp32`` / ``frac_conv_bf16`` of the machine's conv rates, ``conv_bound_s``
    (every dtype's FLOPs at that dtype's conv rate; bf16 at the fp32 rate when none was measured) and
    ``frac_of_conv_bound`` (``conv_bound_s / median_s``)."""
    total = flops["total"]
    fp32 = machine["conv3x3"]["gflops"] * 1e9
    bf16 = (machine.get("conv3x3_bf16") or {}).get("gflops")
    bf16 = bf16 * 1e9 if bf16 else None
    by_dtype = flops.get("by_dtype") or {"float32": total}
    bound = sum(n / (bf16 if dt == "bfloat16" and bf16 else fp32) for dt, n in by_dtype.items())
    achieved = total / median_s
    return {"gflops": achieved / 1e9, "frac_conv_fp32": achieved / fp32,
            "frac_conv_bf16": achieved / bf16 if bf16 else None, "conv_bound_s": bound,
            "frac_of_conv_bound": bound / median_s}


def difference(a: dict, b: dict) -> dict:
    """``a - b`` of two ``perf.LayerFlops.summary()`` dicts, key by key (zeros dropped from the splits)."""
    out = {"total": a["total"] - b["total"]}
    for split in ("by_phase", "by_dtype", "by_kind"):
        keys = set(a.get(split, {})) | set(b.get(split, {}))
        d = {k: a.get(split, {}).get(k, 0) - b.get(split, {}).get(k, 0) for k in keys}
        out[split] = {k: v for k, v in d.items() if v or (split == "by_phase" and k in PHASES)}
    return out


def _precision(flops: dict | None, fallback: str = "fp32") -> str:
    by = (flops or {}).get("by_dtype") or {}
    total = sum(by.values())
    if not total:
        return fallback
    bf = by.get("bfloat16", 0) / total
    return "fp32" if bf == 0 else "bf16" if bf == 1 else f"mixed, {100 * bf:.0f}% bf16"


def rows(result: dict) -> list[dict]:
    """One dict per timed case: ``section``, ``case``, ``precision``, ``flops`` (a summary or None), ``median_s``,
    and ``rates`` (``rates(...)``, or None when the FLOPs were not counted)."""
    machine = result["machine"]
    out = []

    def add(section, case, flops, median_s, precision=None):
        r = rates(flops, median_s, machine) if flops and median_s else None
        out.append({"section": section, "case": case, "precision": precision or _precision(flops), "flops": flops,
                    "median_s": median_s, "rates": r})

    for size, s in result.get("stylize", {}).get("transformer", {}).get("sizes", {}).items():
        for name, v in s.get("variants", {}).items():
            if "median_s" not in v:
                continue
            dtype = "bfloat16" if name.startswith("bf16") else "float32"
            flops = {"total": s["flops"], "by_phase": {"forward": s["flops"]}, "by_dtype": {dtype: s["flops"]}}
            add("stylize", f"{size} px, batch 1, {name}", flops, v["median_s"])
    for size, m in result.get("meta", {}).get("sizes", {}).items():
        for name, v in m.get("runs", {}).items():
            if "median_s" not in v:
                continue
            order, _, variant = name.partition("-")
            label = "authors' loop (mirror)" if variant == "official" else variant
            add("meta-iteration", f"{size} px, {order} order, {label}", v.get("flops"), v["median_s"],
                None if v.get("flops") else ("bf16 VGG" if variant == "loss_bf16" else "fp32"))
    a = result.get("adapt")
    if a and "s_per_step" in a:
        add("adaptation step", f"{a['content_size']} px (style {a['style_size']}), batch {a['batch']}",
            a.get("flops_per_step"), a["s_per_step"])
    return out


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _split(flops: dict) -> str:
    total = flops["total"] or 1
    return " / ".join(f"{100 * flops.get('by_phase', {}).get(p, 0) / total:.0f}" for p in PHASES)


def markdown(result: dict, source: str | None = None) -> str:
    """The efficiency table of one bench result (``rows``) as markdown, with the machine rates it divides by."""
    m, dev = result["machine"], result.get("device", {})
    bf = (m.get("conv3x3_bf16") or {}).get("gflops")
    lines = [f"# Efficiency: {dev.get('name', '?')}, {dev.get('threads', '?')} threads",
             "",
             f"Generated by `python -m metastyle.study.lab.efficiency` from `{source or 'the bench result'}` (schema "
             f"`{result.get('schema', '?')}`, commit `{str(result.get('git_commit') or '?')[:12]}`, load average "
             f"{dev.get('load_average')} at the start, {dev.get('load_average_end')} at the end); do not edit by hand.",
             "",
             f"Machine, same run: 3x3 conv fp32 **{m['conv3x3']['gflops']:.1f}** GFLOP/s, bf16 "
             + (f"**{bf:.1f}** GFLOP/s" if bf else "not measured") + f", fp32 matmul {m['matmul']['gflops']:.1f} "
             "GFLOP/s. FLOPs: 2 per multiply-add of every convolution and matrix product that ran "
             "(`perf.LayerFlops`; stylisation: `perf.count_flops`, forward only). `conv bound`: those FLOPs at "
             "the conv rate of their dtype, over the measured time.",
             "",
             "| section | case | precision | GFLOP | fwd / bwd / double bwd % | median s | GFLOP/s | of fp32 conv "
             "| of bf16 conv | of conv bound |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows(result):
        f, q = r["flops"], r["rates"]
        if q is None:
            lines.append(f"| {r['section']} | {r['case']} | {r['precision']} | not counted | - | "
                         f"{r['median_s']:.4g} | - | - | - | - |")
            continue
        lines.append(f"| {r['section']} | {r['case']} | {r['precision']} | {f['total'] / 1e9:.1f} | {_split(f)} | "
                     f"{r['median_s']:.4g} | {q['gflops']:.1f} | {_pct(q['frac_conv_fp32'])} | "
                     f"{_pct(q['frac_conv_bf16'])} | {_pct(q['frac_of_conv_bound'])} |")
    return "\n".join(lines) + "\n"


def table_path(json_path: str | Path) -> Path:
    """``results/bench/<slug>.json`` -> ``results/bench/<slug>-efficiency.md``."""
    p = Path(json_path)
    return p.with_name(f"{p.stem}-efficiency.md")


def write_table(result: dict, path: str | Path, *, source: str | None = None) -> Path:
    return files.write_text(path, markdown(result, source))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m metastyle.study.lab.efficiency", description=__doc__.split("\n")[0])
    p.add_argument("json", nargs="+", help="bench result(s) (metastyle bench's <slug>.json)")
    p.add_argument("--stdout", action="store_true", help="print the table(s) instead of writing them")
    a = p.parse_args(argv)
    for name in a.json:
        result = json.loads(Path(name).read_text())
        if a.stdout:
            print(markdown(result, Path(name).name))
        else:
            print(f"written {write_table(result, table_path(name), source=Path(name).name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
