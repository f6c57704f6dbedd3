"""Run the study's notebooks headless with papermill: ``python -m metastyle.study.nb.reproduce --profile quick``.

Each notebook ``notebooks/NN_name.ipynb`` is executed into a temporary folder beside
``results/NN_name/<profile>/`` and swapped in only when it succeeds, so a results folder is always the
complete output of one run (``executed.ipynb``, figures, tables, ``metrics.json``, ``run.json``). On failure
the previous results stay untouched, the failed run is kept in ``results/NN_name/<profile>.failed/``, and
the runner stops with a one-line message naming the notebook (exit status 1). The source notebooks are
never overwritten. The kernel imports this checkout's ``metastyle`` (``PYTHONPATH`` is set to the
repository root). Checkpoints go to ``--runs-dir`` (default ``runs/``, or ``$METASTYLE_RUNS``).

Progress: one line per notebook (``[reproduce] 3/11 02_adaptation ...``), and the kernel's stderr streamed
through, where long loops print their step, rate and ETA (``metastyle.infra.progress``). ``OMP_WAIT_POLICY`` is
``PASSIVE`` unless set (``metastyle.passive_openmp_default``; the kernels inherit it).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from metastyle import passive_openmp_default
from metastyle.infra import files

ROOT = Path(__file__).resolve().parents[3]
REPORT = "10_report"
#: Notebooks a profile runs when it is not asked for all of them (no entry: every notebook). ``quick`` has no
#: room for the budget curve and the ablations (hours); ``long`` exists for them (``make long`` then rewrites
#: REPORT.md).
PROFILE_NOTEBOOKS = {"quick": lambda stem: stem[:2] not in LONG_ONLY,
                     "long": lambda stem: stem[:2] in LONG_ONLY, "long-b5e3": lambda stem: stem[:2] in LONG_ONLY}
#: the notebooks only ``long`` (and ``smoke``, ``paper``) runs: the budget curve and the ablations
LONG_ONLY = ("11", "12")


def notebooks(only: str | None = None, folder: Path | None = None, profile: str | None = None) -> list[Path]:
    """The notebooks to run, in order: those matching ``only`` (stems or prefixes, comma-separated), else the
    ``profile``'s (``PROFILE_NOTEBOOKS``)."""
    # numbered order, except that the report, which collates every other notebook's results, runs last
    found = sorted((folder or ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.stem == REPORT, p.stem))
    if only:
        wanted = [o.strip() for o in only.split(",") if o.strip()]
        found = [nb for nb in found if any(nb.stem == w or nb.stem.startswith(w) for w in wanted)]
    elif profile in PROFILE_NOTEBOOKS:
        found = [nb for nb in found if PROFILE_NOTEBOOKS[profile](nb.stem)]
    return found


def resolve_data(data: str, data_dir: str) -> str:
    """``auto``: ``examples`` when ``data_dir`` holds ``content/`` and ``style/`` images (the paper's test
    images, `metastyle data examples`), else ``embedded``; any other value is kept."""
    if data != "auto":
        return data
    root = Path(data_dir)
    return "examples" if (root / "content").is_dir() and (root / "style").is_dir() else "embedded"


def _swap(tmp: Path, final: Path) -> None:
    """Replace ``final`` with ``tmp`` (old results removed only after the new ones are in place)."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def run_notebook(nb: Path, results: Path, profile: str, params: dict, *, timeout: int | None = None) -> float:
    """Execute ``nb`` into ``results/<stem>/<profile>/`` with swap semantics; returns wall seconds.

    Raises ``RuntimeError`` (one line) when the notebook fails; the failed run is kept in ``<profile>.failed``.
    """
    import papermill as pm

    base = results / nb.stem
    base.mkdir(parents=True, exist_ok=True)
    final, failed = base / profile, base / f"{profile}.failed"
    tmp = base / f".{profile}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    given = {**params, "OUT_DIR": str(tmp)}
    undeclared = sorted(set(given) - set(pm.inspect_notebook(str(nb))))
    if undeclared:  # never drop a parameter silently: the notebook would run with its own default
        shutil.rmtree(tmp)
        raise RuntimeError(f"notebook {nb.stem} does not declare the parameter(s) {', '.join(undeclared)} "
                           "in its parameters cell")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(nb), str(tmp / "executed.ipynb"), kernel_name="python3", parameters=given,
                            cwd=str(ROOT), progress_bar=False, execution_timeout=timeout, stderr_file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - reported in one line below, the run kept for inspection
        if failed.exists():
            shutil.rmtree(failed)
        tmp.rename(failed)
        what = f"{getattr(err, 'ename', type(err).__name__)}: {getattr(err, 'evalue', err)}"
        what = " ".join(str(what).split())[:300]
        raise RuntimeError(f"notebook {nb.stem} failed ({what}); previous results kept, failed run in "
                           f"{failed}/executed.ipynb") from None
    finally:
        os.environ["PYTHONPATH"] = env_path
        if not env_path:
            os.environ.pop("PYTHONPATH", None)
    _swap(tmp, final)
    if failed.exists():
        shutil.rmtree(failed)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", help="smoke | quick | long | long-b5e3 | paper (default quick)")
    p.add_argument("--data", default="auto",
                   help="figure/evaluation images: auto (examples if DATA_DIR has them, else embedded) | embedded | "
                        "examples | PATH")
    p.add_argument("--data-dir", default="data/examples", help="folder with content/ and style/ (DATA=examples)")
    p.add_argument("--only", default=None, help="notebook stem or prefix (comma-separated for several)")
    p.add_argument("--results", default=str(ROOT / "results"), help="output root (default results/)")
    p.add_argument("--runs-dir", default=os.environ.get("METASTYLE_RUNS", str(ROOT / "runs")))
    p.add_argument("--theta", default="", help="use this meta-trained theta instead of training one")
    p.add_argument("--seed", type=int, default=0, help="0 = the profile's seed")
    p.add_argument("--notebooks", default=None, help=argparse.SUPPRESS)  # tests: another notebook folder
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    args = p.parse_args(argv)
    from metastyle import config

    if args.profile not in config.PROFILES:  # before any kernel starts
        print(f"metastyle: error: unknown profile {args.profile!r}; choose one of {', '.join(config.PROFILES)}",
              file=sys.stderr)
        return 2
    policy = passive_openmp_default()
    args.data = resolve_data(args.data, args.data_dir)
    found = notebooks(args.only or None, Path(args.notebooks) if args.notebooks else None, args.profile)
    if not found:
        print(f"metastyle: error: no notebook matches {args.only!r}" if args.only else
              "metastyle: error: no notebooks found under notebooks/", file=sys.stderr)
        return 2
    results = Path(args.results).resolve()
    params = {"PROFILE": args.profile, "DATA": args.data, "DATA_DIR": args.data_dir,
              "RUNS_DIR": str(Path(args.runs_dir).resolve()), "SEED": args.seed, "THETA": args.theta,
              "RESULTS_DIR": str(results)}
    timings = {}
    how = ("the paper's test images" if args.data == "examples" else
           "embedded photos and procedural styles: `metastyle data examples` fetches the paper's test images"
           if args.data == "embedded" else "your folder")
    print(f"[reproduce] DATA={args.data} ({how}); {len(found)} notebook(s), profile {args.profile}, "
          f"OMP_WAIT_POLICY={policy}", file=sys.stderr, flush=True)
    for i, nb in enumerate(found, 1):
        print(f"[reproduce] {i}/{len(found)} {nb.stem} ...", file=sys.stderr, flush=True)
        try:
            timings[nb.stem] = round(run_notebook(nb, results, args.profile, params, timeout=args.timeout), 1)
        except RuntimeError as err:
            print(f"metastyle: error: {err}", file=sys.stderr)
            return 1
        print(f"[reproduce] {nb.stem} done in {timings[nb.stem]:.1f} s", file=sys.stderr, flush=True)
    summary = results / f"timings-{args.profile}.json"
    if not args.only:  # the profile's whole set ran
        files.write_json(summary, {"profile": args.profile, "data": args.data, "seconds": timings,
                                   "total_seconds": round(sum(timings.values()), 1)})
    print(f"[reproduce] {len(timings)} notebook(s) in {sum(timings.values()):.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
