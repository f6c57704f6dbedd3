"""``results/REPORT.md``: each claim of the paper (docs/paper-vs-code.md §6), what was measured, and a verdict
decided by an explicit rule (never by hand). The rules, their thresholds and the typed records they read from the
notebooks' ``metrics.json`` are the claim slices of ``study.claims``; this module loops over them, names no claim,
and writes the header (loss network, scale, data, departures from the published settings) and the table. A claim
whose numbers are missing is "not testable at this scale", with the reason; each verdict names the profile it
comes from (``study.claims.base``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from metastyle.errors import MetaStyleError
from metastyle.infra import files
from metastyle.study import claims as claim_slices
from metastyle.study.results import read_metrics, read_run

NOTEBOOKS = ("00_setup_and_data", "01_meta_training", "02_adaptation", "03_comparison_prior_arts",
             "04_quantitative_results", "05_style_interpolation", "06_video_style_transfer",
             "07_representation", "08_gatys_with_metastyle_init", "09_johnson_with_metastyle_init")


def figure_data(runs: dict[str, dict], asked: str) -> str:
    """The ``DATA`` (evaluation / figure images) the notebooks' ``run.json`` recorded; ``MetaStyleError`` when
    they disagree with each other or with ``asked`` (a report must not mix runs made with different images)."""
    seen = {nb: r["data"] for nb, r in runs.items() if r and r.get("data")}
    values = set(seen.values())
    if len(values) > 1 or (values and asked and values != {asked}):
        raise MetaStyleError("results were made with different DATA: " + ", ".join(
            f"{nb}={d}" for nb, d in sorted(seen.items())) + f" (report asked for DATA={asked}); rerun them together")
    return values.pop() if values else asked


#: config sections whose differences from ``paper`` the header lists (sizes and counts are on the Scale line;
#: run-time settings such as logging cadence or the device change no number)
DEPARTURE_KEYS = {"loss": None, "meta": {"inner_params", "inner_steps", "inner_lr", "outer_lr", "second_order",
                                         "fresh_batches", "meta_batch", "batch", "lr_decay", "loss_bf16"},
                  "adapt": {"lr", "batch", "params"}, "data": {"split"}}


def departures(cfg: dict, loss_net: str) -> list[tuple[str, object, object]]:
    """``(key, value, paper value)`` for every setting of ``cfg`` (a ``Config.to_dict()``) in
    ``DEPARTURE_KEYS`` that differs from the ``paper`` profile's, both resolved for the loss network
    ``loss_net`` that made the run (its default style weight and inner step), so only real departures count."""
    from metastyle import config
    from metastyle.method.context import resolve

    paper = resolve(config.load("paper"), loss_net).to_dict()
    out = []
    for section, keys in DEPARTURE_KEYS.items():
        for key, value in cfg.get(section, {}).items():
            if key in ("loss_net", "vgg_weights"):  # on the Loss network line
                continue
            if (keys is None or key in keys) and key in paper[section] and value != paper[section][key]:
                out.append((f"{section}.{key}", value, paper[section][key]))
    return out


def build(results_dir: str | Path, profile: str, data: str) -> tuple[str, list[dict]]:
    """The REPORT.md text and the verdict list."""
    metrics = lru_cache(None)(lambda nb, p: read_metrics(results_dir, nb, p))
    run_of = lru_cache(None)(lambda nb, p: read_run(results_dir, nb, p))
    m = {nb: metrics(nb, profile) for nb in NOTEBOOKS}
    runs = {nb: run_of(nb, profile) for nb in NOTEBOOKS}
    any_run = next((r for r in runs.values() if r), {})
    judged, notes, other_runs = claim_slices.judge(metrics, profile, run_of)
    verdicts = [v.row() for v in judged]
    ln = any_run.get("loss_net", {})
    label = any_run.get("loss_net_label", "unknown")
    data = figure_data({**runs, **other_runs}, data)  # e.g. claim 6's 03 under long: the same figure images
    lines = [f"# MetaStyle reproduction report ({profile})", "",
             f"Made by `make reproduce PROFILE={profile} DATA={data}` "
             f"(`python -m metastyle.study.nb.reproduce --profile {profile} --data {data}`).", "",
             f"- Loss network: **{label}**" + (f", source `{ln['source']}`" if ln.get("source") else "")
             + (f", sha256 `{ln['checksum'][:16]}…`" if ln.get("checksum") else "")]
    if ln and ln.get("name", "").endswith("-random"):
        lines.append("- **A random-init VGG (ablation) made these numbers: it is not a perceptual loss, and nothing"
                     " here is comparable to the paper's.**")
    cfg = any_run.get("config", {})
    if cfg:
        lines.append(f"- Scale: {cfg['meta']['iterations']} meta-iterations (paper 100,000) at "
                     f"{cfg['data']['content_size']} px; adaptation {cfg['adapt']['steps']} steps (paper 200) and "
                     f"evaluation at {cfg['adapt']['content_size']} px contents, {cfg['adapt']['style_size']} px "
                     f"styles (paper 256 / 512)")
        lines.append(f"- Data: meta-training on `{cfg['data']['content']}` contents and `{cfg['data']['style']}` "
                     f"styles (the profile's); evaluation and figure images: `DATA={data}`")
        changed = departures(cfg, ln.get("name", cfg.get("loss", {}).get("loss_net", "")))
        if changed:
            lines.append("- Settings that differ from the published ones (`paper` profile), each explained in "
                         "`metastyle/config.py`: " + "; ".join(f"`{k}` {v!r} (paper {p!r})" for k, v, p in changed))
    prov = any_run.get("provenance", {})
    if prov:
        lines.append(f"- Device: {prov.get('device_name')}; commit {prov.get('git_commit')}")
    missing = [nb for nb in NOTEBOOKS if not m[nb]]
    if missing:
        lines.append(f"- Missing results (not run under this profile): {', '.join(missing)}")
    lines += [f"- {n}" for n in notes]
    lines += ["", "| # | claim (docs/paper-vs-code.md §6) | measured | verdict | from | rule |",
              "|---|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v['claim']} | {v['statement']} | {v['measured']} | **{v['verdict']}** | `{v['profile']}` "
                     f"| {v['rule']} |")
    lines += ["", "Per-notebook numbers: `results/<notebook>/" + profile + "/metrics.json`; provenance in `run.json`."]
    return "\n".join(lines) + "\n", verdicts


def write_atomic(path: str | Path, text: str) -> Path:
    """``files.write_text`` into a folder created if missing (notebook 10 writes REPORT.md with it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return files.write_text(path, text)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(build(sys.argv[1] if len(sys.argv) > 1 else "results", "quick", "embedded")[0])
