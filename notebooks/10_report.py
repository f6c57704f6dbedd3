# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   language_info:
#     name: python
# ---

# %% [markdown]
# # 10 · Report
# Regenerates `results/REPORT.md`: each claim of the paper (11 claims, docs/paper-vs-code.md §6, and claim 12
# beyond the paper: θ_meta vs θ_plain), what was measured (numbers read from the other notebooks'
# `metrics.json`), a verdict decided by the explicit rules in `metastyle.study.report`, the
# command and profile that made it, and which loss network and scale produced the numbers.

# %% tags=["parameters"]
# papermill parameters, one per line (what each means: metastyle.study.nb.notebook.PARAMETERS)
PROFILE = "quick"
DATA = "embedded"
DATA_DIR = "data/examples"
OUT_DIR = ""
RUNS_DIR = "runs"
RESULTS_DIR = "results"
SEED = 0
THETA = ""

# %%
from pathlib import Path

from metastyle.study import report
from metastyle.study.nb import notebook

cfg, _, rec = notebook.start("10_report", globals(), with_context=False)
text, verdicts = report.build(RESULTS_DIR, PROFILE, DATA)
rec.path("REPORT.md").write_text(text)
target = Path(RESULTS_DIR) / ("REPORT.md" if PROFILE != "smoke" else f"REPORT-{PROFILE}.md")
report.write_atomic(target, text)
print("wrote", target)
notebook.banner(text)

# %%
rec.write_metrics({"n_claims": len(verdicts),
                   **{f"claim_{v['claim']}_holds": v["verdict"] == "holds" for v in verdicts},
                   "n_holds": sum(v["verdict"] == "holds" for v in verdicts),
                   "n_not_hold": sum(v["verdict"] == "does not hold" for v in verdicts),
                   "n_inconclusive": sum(v["verdict"] == "inconclusive" for v in verdicts),
                   "n_visual": sum(v["verdict"] == "visual" for v in verdicts),
                   "n_not_testable": sum(v["verdict"].startswith("not testable") for v in verdicts)})
rec.metrics
