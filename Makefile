# Two set-up commands work on a fresh machine: `make reproduce` and `make test`. Both create .venv first.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= quick
DATA    ?= auto
DATA_DIR ?= data/examples
NB      ?=
# Spin-waiting OpenMP is many times slower on shared cores (docs/performance.md); a value you set is kept.
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.PHONY: venv test lint sync-notebooks reproduce long ablations baselines baselines-measure notebook clean-smoke gpu-check gpu-carry peer-adapt

$(STAMP): requirements-lock.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(STAMP)

# ruff first (config in pyproject.toml: metastyle/, tests/ and the notebooks' py:percent sources), then pytest.
test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check metastyle tests notebooks

# Rewrite every notebooks/NN_*.ipynb from its py:percent source NN_*.py (outputs stripped; docs/notebooks.md).
sync-notebooks: $(STAMP)
	$(PY) -m metastyle.study.nb.pairs sync

# Run the profile's notebooks in order with papermill (results/<notebook>/<profile>/). DATA=auto: the paper's
# test images when DATA_DIR holds them (`metastyle data examples`), else the embedded ones; the first line says.
reproduce: $(STAMP)
	$(PY) -m metastyle.study.nb.reproduce --profile $(PROFILE) --data $(DATA) --data-dir $(DATA_DIR)

# The budget curve (notebook 11) under the long profile, under 2 hours on 2 idle cores; rerunning resumes. Then
# REPORT.md again, whose claims 3, 4 and 12 it decides (the quick results it collates must be there).
# LONG=long-b5e3: the same curve at quick's beta 5e3, where the adapted outputs keep the photo (metastyle/config.py).
LONG ?= long
long: $(STAMP)
	$(PY) -m metastyle.study.nb.reproduce --profile $(LONG) --data $(DATA) --data-dir $(DATA_DIR) --only 11_budget_curve
	$(PY) -m metastyle.study.nb.reproduce --profile quick --data $(DATA) --data-dir $(DATA_DIR) --only 10_report

# The ablations (notebook 12: split vs one content pool, T = 1, 2, 5) on long's grid, about an hour on 2 idle
# cores after `make long` (it reuses 11's scratch and reference cells); rerunning resumes. Then REPORT.md again
# (claims 10 and 11).
ablations: $(STAMP)
	$(PY) -m metastyle.study.nb.reproduce --profile $(LONG) --data $(DATA) --data-dir $(DATA_DIR) --only 12_ablations
	$(PY) -m metastyle.study.nb.reproduce --profile quick --data $(DATA) --data-dir $(DATA_DIR) --only 10_report

# The five arbitrary-style baselines (issue 20) at their long schedules, each planned for 16 of at most 20 minutes
# on 2 idle cores, into runs/arbitrary-long-<seed>/; rerunning continues a stopped method and keeps finished ones.
# Then the comparison figure (notebook 03) under long, and REPORT.md, whose claim 6 it decides (docs/arbitrary.md).
baselines: $(STAMP)
	$(PY) -m metastyle.study.prior_arts train --profile long --data-dir $(DATA_DIR)
	$(PY) -m metastyle.study.nb.reproduce --profile long --data $(DATA) --data-dir $(DATA_DIR) --only 03_comparison_prior_arts
	$(PY) -m metastyle.study.nb.reproduce --profile quick --data $(DATA) --data-dir $(DATA_DIR) --only 10_report

# Seconds per iteration of the long schedules, a few iterations each (Meta Networks' must be measured and set
# before `make baselines`): make baselines-measure [METHODS=metanet]
METHODS ?=
baselines-measure: $(STAMP)
	$(PY) -m metastyle.study.prior_arts measure $(METHODS) --data-dir $(DATA_DIR)

# Run one notebook: make notebook NB=05_style_interpolation
notebook: $(STAMP)
	$(PY) -m metastyle.study.nb.reproduce --profile $(PROFILE) --data $(DATA) --data-dir $(DATA_DIR) --only $(NB)

clean-smoke:
	rm -rf results/*/smoke

# One lent GPU, at most 10 minutes (docs/performance.md, "GPU check"): CUDA tests, Table 1, adaptation, the
# meta-iteration, then meta-training to a time cap; one folder ($OUT, else results/gpu/<date>). It needs no venv
# where python3 holds torch (a device machine reaches no registry): the venv's python if there is one, else python3.
GPU_PY   ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
GPU_ARGS ?=
gpu-check:
	$(GPU_PY) -m metastyle.study.lab.gpucheck $(GPU_ARGS)

# Here, before lending: the conv1_1-conv4_3 VGG-16 weights the device cannot fetch, into gpu-carry/ (git-ignored;
# name it in the run's carry).
gpu-carry: $(STAMP)
	$(PY) -m metastyle.study.lab.gpucheck --pack-vgg

# One adaptation step vs pytorch/examples' fast_neural_style training step, whole processes (docs/performance.md,
# "Adaptation against pytorch/examples"). PEER: a checkout of pytorch/examples (kept outside this project). Prints
# the four commands to time; PEER_ARGS="--run --repeats 3" also runs them (idle cores only).
PEER ?=
PEER_ARGS ?=
peer-adapt: $(STAMP)
	@test -n "$(PEER)" || { echo "make peer-adapt: set PEER=<checkout of pytorch/examples>"; exit 2; }
	$(PY) -m metastyle.study.lab.peer --examples $(PEER) $(PEER_ARGS)
