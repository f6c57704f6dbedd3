"""Stylisation speed as the notebooks measure it (Table 1): best-of-N forward passes of trained models, timed
one by one under the same protocol, and the bench suite's medians read back from ``results/bench/``.

``timed`` is the study's one timer: the best of N here, the bench suite's median (``bench.timeit``) and
``metrics.evaluate_method``'s single calls all time each call with it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from metastyle.baselines import arbitrary
from metastyle.config import ConfigError, study_sizes
from metastyle.errors import DataError
from metastyle.study.prior_arts import TABLE1_NAMES, run_method


def sync(device: torch.device | str | None = None) -> None:
    """Wait for the work queued on the GPU (``device``'s, or the current one's); nothing to wait for on a CPU."""
    if (device is None or torch.device(device).type == "cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device | str | None = None):
    """``(seconds, result)`` of one call ``fn()``: wall-clock seconds, the GPU synchronised before and after."""
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t, out


def best_seconds(fns: dict, reps: int) -> dict[str, float]:
    """Seconds of each callable in ``fns``: one warm-up each, then ``reps`` rounds that call every one once in
    turn (interleaved, so other load on the machine hits all alike); the best round of each (the least
    disturbed). Each callable is timed on its own: equal numbers are a measurement, never a copy."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(max(1, reps)):
        for k, fn in fns.items():
            times[k].append(timed(fn)[0])
    return {k: min(v) for k, v in times.items()}


def time_forward(nets: dict, sizes=(256, 512), reps: int = 5, device="cpu") -> dict[str, dict[int, float]]:
    """Seconds per forward pass (batch 1) of each network in ``nets`` at each size, with ``best_seconds``."""
    out: dict[str, dict[int, float]] = {k: {} for k in nets}
    for s in sizes:
        x = torch.rand(1, 3, s, s, device=device)
        with torch.inference_mode():
            best = best_seconds({k: (lambda n=n, x=x: n(x)) for k, n in nets.items()}, reps)
        for k, t in best.items():
            out[k][s] = t
    return out


def time_methods(ctx, models: dict, sizes=(256, 512), reps: int = 5, *, gatys_steps: int | None = None,
                 arbitrary_methods: bool = True):
    """Table 1 timings measured here: seconds per image (batch 1, one warm-up, best of ``reps``).

    ``models``: the trained feed-forward networks to time, e.g. ``{"MetaStyle": adapted, "Johnson": johnson}``
    (claim 2 compares an adapted model with a separately trained Johnson model, timed independently with the
    same protocol). A method that cannot be timed keeps its row, with the reason in ``note``.
    """
    import pandas as pd

    from metastyle.method.nets import count_parameters

    t = time_forward({k: n.to(ctx.device).eval() for k, n in models.items()}, sizes, reps, ctx.device)
    rows = [{"method": k, "measured_param": float(count_parameters(n)), "note": "",
             **{f"measured_{s}_s": t[k][s] for s in sizes}} for k, n in models.items()]
    row = {"method": "Gatys", "note": ""}
    for sz in sizes:
        x, y = torch.rand(1, 3, sz, sz), torch.rand(1, 3, sz, sz)
        gatys = lambda x=x, y=y: run_method("Gatys", x, y, ctx, steps=gatys_steps)  # noqa: E731
        row[f"measured_{sz}_s"] = best_seconds({"g": gatys}, 1)["g"]
    rows.append(row)
    for key, m in (arbitrary.METHODS.items() if arbitrary_methods else []):
        model = m.build().to(ctx.device).eval()
        row = {"method": TABLE1_NAMES.get(key, key), "measured_param": float(m.count_params(model)["total"]),
               "note": ""}
        for sz in sizes:
            x, y = torch.rand(1, 3, sz, sz, device=ctx.device), torch.rand(1, 3, sz, sz, device=ctx.device)
            with torch.inference_mode():
                fn = lambda m=m, model=model, x=x, y=y: m.stylize(model, x, y)  # noqa: E731
                row[f"measured_{sz}_s"] = best_seconds({"m": fn}, max(1, reps // 2))["m"]
        rows.append(row)
    return pd.DataFrame(rows)


#: The bench suite times one untrained transformer: its row, the reference of the bench's own ratios.
BENCH_TRANSFORMER = "transformer (bench)"


def read_bench(results_dir: str | Path = "results"):
    """Table 1 from the bench suite (``results/bench/<device>.json``, ``metastyle.study.lab.bench``) as
    ``(DataFrame, source, device name)``, or None when there is none (``-quick``/``-smoke`` files are partial
    runs and not read). The bench's transformer is one network: its row is ``BENCH_TRANSFORMER``, never
    MetaStyle or Johnson (those are timed in notebook 04 as two trained models). A method the bench could not
    time keeps its row with the reason in ``note``. A file that is not a bench result raises ``DataError``."""
    files = sorted(p for p in (Path(results_dir) / "bench").glob("*.json")
                   if not p.stem.endswith(("-smoke", "-quick")))
    if not files:
        return None
    p = files[0]
    try:
        return _bench_rows(json.loads(p.read_text()), p)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{p}: not a readable bench result ({type(err).__name__}: {err}); "
                        "rerun `metastyle bench` or move the file away") from None


def _bench_rows(d: dict, p: Path):
    import pandas as pd

    st = d["stylize"]
    tr = st["transformer"]
    rows = [{"method": BENCH_TRANSFORMER, "measured_param": float(tr["params"]), "note": "",
             **{f"measured_{s}_s": v["variants"]["plain"]["median_s"] for s, v in tr["sizes"].items()}}]
    g = st.get("gatys", {})
    if g.get("available"):
        rows.append({"method": "Gatys", "note": "",
                     **{f"measured_{s}_s": v["median_s"] for s, v in g["sizes"].items()}})
    a = st.get("arbitrary", {})
    for key, r in (a.get("methods", {}) if a.get("available") else {}).items():
        name = TABLE1_NAMES.get(key, key)
        if "error" in r:
            rows.append({"method": name, "note": f"bench error: {r['error']}"})
            continue
        rows.append({"method": name, "measured_param": float(r.get("params") or "nan"), "note": "",
                     **{f"measured_{s}_s": r[s]["median_s"] for s in ("256", "512") if s in r}})
    dev = d.get("device", {})
    return pd.DataFrame(rows), f"bench suite: {p.name} (median)", dev.get("name", p.stem)


def add_ratios(table, sizes=("256", "512"), reference: str = "MetaStyle"):
    """``measured_<s>_ratio``: each row's time / the reference time *of the same source* (bench rows: the
    bench's transformer; rows timed in the notebook: ``reference``), so no ratio mixes two protocols."""
    table = table.copy()
    for s in sizes:
        col = f"measured_{s}_s"
        ref = {}
        for src, g in table.groupby("source"):
            hit = g[g.method.isin([reference, BENCH_TRANSFORMER])]
            ref[src] = float(hit[col].iloc[0]) if len(hit) and col in hit else float("nan")
        table[f"measured_{s}_ratio"] = table[col] / table.source.map(ref)
    return table


# ------------------------------------------------------------------------------ the paper's reference Table 1
#: The paper's Table 1 as published (Zhang, Zhu, Zhu, AAAI 2019, Table 1): REFERENCE NUMBERS reported by the
#: authors on their GPU, never measured here. Rows: (method, parameters, seconds at 256², at 512², # styles).
PAPER_TABLE1 = (
    ("Gatys", None, 7.7428, 27.0517, "inf"), ("Johnson", 1.68e6, 0.0044, 0.0146, "1"),
    ("WCT", 34.23e6, 0.6887, 1.2335, "inf"), ("AdaIN", 7.01e6, 0.0165, 0.0320, "inf"),
    ("MetaNetworks", 219.32e6, 0.0045, 0.0147, "inf"), ("AvatarNet", 147.22e6, 0.5089, 0.6088, "inf"),
    ("StyleSwap", 1.48e6, 0.2679, 1.0890, "inf"), ("MetaStyle", 1.68e6, 0.0047, 0.0145, "inf*"),
)
PAPER_TABLE1_COLUMNS = ("method", "paper_param", "paper_256_s", "paper_512_s", "styles")


def paper_table1(reference: str = "MetaStyle"):
    """The paper's Table 1 (``PAPER_TABLE1``: reference numbers, not measurements) as a DataFrame, with
    ``paper_<size>_ratio``: each method's published time / ``reference``'s published time."""
    import pandas as pd

    t = pd.DataFrame(PAPER_TABLE1, columns=list(PAPER_TABLE1_COLUMNS))
    ref = t[t.method == reference].iloc[0]
    for s in ("256", "512"):
        t[f"paper_{s}_ratio"] = t[f"paper_{s}_s"] / ref[f"paper_{s}_s"]
    return t


# ------------------------------------------------------------------------------------ Gatys time, rescaled
def gatys_timed_steps(profile: str) -> int | None:
    """L-BFGS iterations of Gatys timed for Table 1 under ``profile`` (``config.StudySizes.gatys_timed_steps``):
    ``smoke`` times 1 and does not rescale (CI time: the row is labelled as such); ``quick`` times 5 and
    rescales linearly to the profile's budget (a full 512 px run takes many minutes on a CPU; one L-BFGS
    iteration costs about the same at any iteration); None (``paper``): the whole budget."""
    return study_sizes(profile).gatys_timed_steps


def rescale_gatys(table, profile: str, budget: int):
    """Table 1 rows timed by ``time_methods(gatys_steps=gatys_timed_steps(profile))`` with the Gatys row put
    on the ``budget``-iteration scale: under ``quick`` its seconds are multiplied by budget / timed
    iterations; under ``smoke`` (``StudySizes.gatys_rescale`` False) they stay the 1-iteration time; otherwise
    they are already the budget. Every case appends what was done to the row's ``source``. Rows of other
    methods, and a Gatys row that was not timed (NaN), are unchanged. Returns a copy."""
    if int(budget) < 1:
        raise ConfigError(f"Gatys budget must be at least 1 iteration, got {budget}")
    steps = gatys_timed_steps(profile)
    table = table.copy()
    rows = (table.method == "Gatys") & table.measured_256_s.notna()
    if steps is not None and not study_sizes(profile).gatys_rescale:
        table.loc[rows, "source"] += f", {steps} iteration only ({profile})"
    elif steps is None or steps == budget:
        table.loc[rows, "source"] += f", {budget} L-BFGS iterations"
    else:
        cols = [c for c in table.columns if c.startswith("measured_") and c.endswith("_s")]
        table.loc[rows, cols] *= budget / steps
        table.loc[rows, "source"] += f", {steps} L-BFGS iterations timed, scaled to the {budget}-iteration budget"
    return table
