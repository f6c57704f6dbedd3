"""Run the study's notebooks headless with papermill: ``python -m metastyle.reproduce --profile quick``.

Each notebook ``notebooks/NN_name.ipynb`` is executed into ``results/NN_name/<profile>/executed.ipynb``;
the source notebook is never overwritten.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def notebooks(only: str | None = None) -> list[Path]:
    found = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [nb for nb in found if only is None or nb.stem == only or nb.stem.startswith(only)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--data", default="embedded")
    p.add_argument("--only", default=None)
    args = p.parse_args(argv)
    found = notebooks(args.only or None)
    if not found:
        print("no notebooks to run yet (notebooks/ is empty)" if not args.only else
              f"metastyle: error: no notebook matches {args.only!r}", file=sys.stderr)
        return 0 if not args.only else 2
    import papermill as pm

    for nb in found:
        out = ROOT / "results" / nb.stem / args.profile
        out.mkdir(parents=True, exist_ok=True)
        pm.execute_notebook(str(nb), str(out / "executed.ipynb"), kernel_name="python3",
                            parameters={"PROFILE": args.profile, "DATA": args.data, "OUT_DIR": str(out)},
                            cwd=str(ROOT), progress_bar=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
