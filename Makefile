# minicnn — `make train` and `make test` are all a new user needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.minicnn-installed
MINICNN_DATA ?= data
export MINICNN_DATA

.PHONY: setup data browser train test test-fast test-slow test-portable test-threaded test-random test-notebooks notebooks mutants evidence bench clean

setup: $(STAMP) data

# Re-install when the project's requirements change; torch/torchvision are pinned in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[torch,dev,notebooks]'
	@touch $(STAMP)

data: $(STAMP)
	$(VENV)/bin/minicnn fetch-data

# The lab's browser tests drive headless Chromium. Where we can (root with apt-get: CI), install it from
# the distribution once, and then those tests must run; elsewhere they skip, saying why.
APT := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo 1)
browser:
	@if [ "$(APT)" = 1 ] && ! { command -v chromium && command -v chromedriver; } >/dev/null; then \
		apt-get update -q && apt-get install -y -q chromium chromium-driver; fi

train: setup
	$(VENV)/bin/minicnn train

# make test: the suite (about 7 minutes in a fresh clone on 2 cores, numba compiling every kernel once, and
# much longer while other jobs share the cores;
# hypothesis derandomized, so every run draws the same examples); test-fast: the inner loop (under a
# minute: no slow tests, no torch agreement/lockstep files).
# The tiers below take minutes each and CI runs them all (.ci/run):
#   test-slow      the fuzz again under NUMBA_BOUNDSCHECK, the torch resume, most of the kill-and-resume matrix
#   test-portable  the kernel, agreement, engine and model suites with numba compiling for a baseline
#                  x86-64 and for Haswell instead of this CPU (NUMBA_CPU_FEATURES empty: the named CPU's
#                  own features, not this machine's AVX-512): a result that hangs on this CPU's vector
#                  width or FMA fails here, not on a user's machine
#   test-threaded  the kernel, agreement and lockstep suites with every pass split into small chunks on
#                  3 threads, so the tests' small shapes run the threaded paths
#   test-random    the property tests with fresh hypothesis draws (a failure prints how to reproduce it)
#   test-notebooks every notebook of docs/notebooks/ executed, and the stored ones checked against their sources
#   mutants        planted wrong backward passes, each of which the suite must catch
SUITES := tests/test_kernels.py tests/test_winograd.py tests/test_agreement.py tests/test_engine.py \
	tests/test_models.py tests/test_lockstep.py
test: setup browser
	MINICNN_REQUIRE_BROWSER=$(APT) $(PY) -m pytest -m "not extended and not portable and not notebooks"

test-fast: setup
	$(PY) -m pytest -m "not slow and not extended and not portable and not notebooks" --ignore=tests/test_lockstep.py \
		--ignore=tests/test_agreement.py --ignore=tests/test_gradcheck_cli.py

test-slow: setup
	$(PY) -m pytest -m extended

test-portable: setup
	$(PY) -m pytest -m portable
	for cpu in generic haswell; do \
		NUMBA_CPU_NAME=$$cpu NUMBA_CPU_FEATURES= NUMBA_CACHE_DIR=.numba-cache/$$cpu \
			$(PY) -m pytest -q -m "not slow and not extended" $(SUITES) || exit 1; done

test-threaded: setup
	MINICNN_TEST_CHUNKS=small MINICNN_NUM_THREADS=3 $(PY) -m pytest -q -m "not extended" $(SUITES) \
		tests/test_threading.py tests/test_optim.py

test-random: setup
	HYPOTHESIS_PROFILE=random $(PY) -m pytest -q -m "not slow and not extended" $(SUITES) tests/test_fuzz.py \
		tests/test_layers.py

test-notebooks: setup
	$(PY) -m pytest -q -m notebooks tests/test_notebooks.py

# Write docs/notebooks/*.ipynb from their sources in docs/notebooks/src/, run them, keep the outputs.
notebooks: setup
	$(PY) docs/notebooks/build.py

# Each planted wrong backward (tests/mutants.py) must fail a test; writes benchmarks/results/mutants.json.
mutants: $(STAMP)
	$(PY) tests/mutants.py
	$(PY) -m benchmarks.report

# The evidence README quotes (agreement with torch over 300 draws, gradcheck, OpInfo, lockstep, optimiser
# gaps), recorded to benchmarks/results/ by the tests themselves, then rendered into README and docs.
evidence: setup
	MINICNN_AGREEMENT_EXAMPLES=300 $(PY) -m pytest -q -p benchmarks.record tests/test_agreement.py \
		tests/test_opinfo.py tests/test_gradcheck_cli.py tests/test_lockstep.py \
		tests/test_models.py tests/test_optim.py
	$(PY) -m benchmarks.report

# Benchmarks are not tests: run them on a quiet machine (about 15 minutes), then regenerate the README tables.
bench: setup
	$(PY) -m benchmarks.bench_threads
	$(PY) -m benchmarks.bench_train --repeats 5
	$(PY) -m benchmarks.bench_kernels
	$(PY) -m benchmarks.bench_kernels --models --rounds 5
	$(PY) -m benchmarks.bench_kernels --layers --rounds 5
	$(PY) -m benchmarks.bench_roofline
	$(PY) -m benchmarks.bench_jit
	$(PY) -m benchmarks.bench_dispatch
	$(PY) -m benchmarks.bench_malloc
	for m in simplecnn simplecnn-bn lenet5 resnet-mini; do $(PY) -m benchmarks.profile_layers --model $$m || exit 1; done
	for m in simplecnn simplecnn-bn lenet5 resnet-mini; do \
		$(PY) -m benchmarks.bench_train --model $$m --steps 200 --repeats 5 || exit 1; done
	$(PY) -m benchmarks.report

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis .numba-cache build *.egg-info
