# minicnn — `make train` and `make test` are all a new user needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.minicnn-installed
MINICNN_DATA ?= data
export MINICNN_DATA

.PHONY: setup data train test bench clean

setup: $(STAMP) data

# Re-install when the project's requirements change; torch/torchvision are pinned in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[torch,dev]'
	@touch $(STAMP)

data: $(STAMP)
	$(VENV)/bin/minicnn fetch-data

train: setup
	$(VENV)/bin/minicnn train

test: setup
	$(PY) -m pytest

# Benchmarks are not tests: run them on a quiet machine (about 15 minutes), then regenerate the README table.
bench: setup
	$(PY) -m benchmarks.bench_threads
	$(PY) -m benchmarks.bench_train
	$(PY) -m benchmarks.bench_kernels
	$(PY) -m benchmarks.bench_jit
	$(PY) -m benchmarks.profile_layers
	$(PY) -m benchmarks.report

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis build *.egg-info
