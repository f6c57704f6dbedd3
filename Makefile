# Two set-up commands work on a fresh machine: `make reproduce` and `make test`. Both create .venv first.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= quick
DATA    ?= embedded
DATA_DIR ?= data/examples
NB      ?=
# Spin-waiting OpenMP is many times slower on shared cores (docs/performance.md); a value you set is kept.
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.PHONY: venv test reproduce notebook clean-smoke

$(STAMP): requirements-lock.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# Run every notebook under notebooks/ in order with papermill (results/<notebook>/<profile>/).
reproduce: $(STAMP)
	$(PY) -m metastyle.reproduce --profile $(PROFILE) --data $(DATA) --data-dir $(DATA_DIR)

# Run one notebook: make notebook NB=05_style_interpolation
notebook: $(STAMP)
	$(PY) -m metastyle.reproduce --profile $(PROFILE) --data $(DATA) --data-dir $(DATA_DIR) --only $(NB)

clean-smoke:
	rm -rf results/*/smoke
