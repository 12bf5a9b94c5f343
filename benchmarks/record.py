"""A pytest plugin: the evidence tests write what they measured to ``benchmarks/results/``.

    MINICNN_AGREEMENT_EXAMPLES=300 python -m pytest -q -p benchmarks.record tests/test_agreement.py \\
        tests/test_opinfo.py tests/test_gradcheck_cli.py tests/test_lockstep.py tests/test_models.py \\
        tests/test_optim.py
    python -m benchmarks.report

The test modules keep their measurements in a module-level dict (the name in ``MODULES``): the worst
relative error per layer and dtype of the torch agreement tests, the OpInfo coverage, the gradcheck
table, the lockstep gaps.  At the end of the session this plugin writes each module's dict to
``results/<name>.json`` (with the machine, date and commit, as every benchmark result), and
``benchmarks.report`` renders those files into the docs pages and README.

A module is recorded only if every one of its tests ran and none failed: a ``-k``/``-m`` selection
or a failure would leave a partial or wrong table, so its file is left as it was (and the plugin
says why).  Without ``-p benchmarks.record`` nothing is written: ``make test`` changes no results.
"""
import os
import sys
from collections import defaultdict
from pathlib import Path

# test module (file stem) -> (results name, the module attribute holding its measurements)
MODULES = {
    "test_agreement": ("agreement", "WORST"),
    "test_optim": ("optim_lockstep", "WORST"),
    "test_opinfo": ("opinfo", "COVERAGE"),
    "test_gradcheck_cli": ("gradcheck", "MEASURED"),
    "test_lockstep": ("lockstep", "MEASURED"),
    "test_models": ("models_lockstep", "MEASURED"),
}
ENV = ("MINICNN_AGREEMENT_EXAMPLES", "HYPOTHESIS_PROFILE")  # settings that change what the tests draw

_modules = {}                      # stem -> module object
_outcomes = defaultdict(lambda: defaultdict(int))   # stem -> outcome -> count
_deselected = defaultdict(int)     # stem -> count
_collected = defaultdict(int)      # stem -> tests to run


def _stem(item):
    return Path(str(getattr(item, "path", None) or item.fspath)).stem


def pytest_collection_finish(session):
    for item in session.items:  # what will run, after any -k/-m deselection
        module = getattr(item, "module", None)
        if _stem(item) in MODULES and module is not None:
            _modules[_stem(item)] = module
            _collected[_stem(item)] += 1


def pytest_deselected(items):
    for item in items:
        _deselected[_stem(item)] += 1


def pytest_runtest_logreport(report):
    stem = Path(report.nodeid.split("::")[0]).stem
    if report.when == "call" or report.outcome != "passed":  # setup errors and skips count too
        _outcomes[stem][report.outcome] += 1


def _jsonable(value):
    """Tuples become lists, numpy scalars and arrays plain numbers and lists, dict keys strings."""
    import numpy as np
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def measurements(stem, module):
    """The payload of ``results/<name>.json`` for one test module."""
    name, attr = MODULES[stem]
    table = getattr(module, attr)
    payload = {"source": f"tests/{stem}.py", "tests": dict(_outcomes[stem])}
    settings = getattr(module, "SETTINGS", None)
    if settings is not None:  # hypothesis draws: how many, and the environment that chose it
        payload["draws"] = settings.max_examples
        payload["env"] = {k: os.environ[k] for k in ENV if k in os.environ}
    if attr == "WORST":  # (key...) -> worst value; keys are a name or a tuple of names
        payload["rows"] = [[*(k if isinstance(k, tuple) else (k,)), float(v)] for k, v in sorted(table.items())]
        rtol = getattr(module, "RTOL", None)
        if rtol is not None:
            payload["tolerance"] = {getattr(k, "__name__", str(k)): float(v) for k, v in rtol.items()}
    else:
        payload["data"] = _jsonable(table)
    return name, payload


def pytest_sessionfinish(session, exitstatus):
    from . import common
    for stem, module in sorted(_modules.items()):
        name, attr = MODULES[stem]
        outcomes = _outcomes[stem]
        why = None
        if _deselected[stem]:
            why = f"{_deselected[stem]} of its tests deselected"
        elif outcomes.get("failed"):
            why = f"{outcomes['failed']} failed"
        elif outcomes.get("passed", 0) + outcomes.get("skipped", 0) < _collected[stem]:
            why = f"only {outcomes.get('passed', 0) + outcomes.get('skipped', 0)} of its {_collected[stem]} tests ran"
        elif not outcomes.get("passed"):
            why = "no test passed"
        elif not getattr(module, attr, None):
            why = f"{attr} is empty"
        if why:
            print(f"\nbenchmarks.record: results/{name}.json not written ({stem}: {why})", file=sys.stderr)
            continue
        name, payload = measurements(stem, module)
        common.write_result(name, payload)
