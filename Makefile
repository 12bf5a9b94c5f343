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

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis build *.egg-info
