"""``minicnn exercises``: the workbook, the grader, the progress table and ``minicnn train --kernels``.

For every exercise the grader must pass minicnn's own code (its naive kernel's body copied into a workbook
file, or a learner-style solution where minicnn has no such function), fail the untouched workbook with
"not implemented", and fail each planted mistake with that mistake named.
"""
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minicnn import cli
from minicnn import exercises as E
from minicnn import kernels as K
from minicnn.autograd import engine

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = E.checks.EXAMPLES   # draws per agreement stage: the CLI's


# --------------------------------------------------------------------------- the right code
def renamed(fn, new):
    """``fn``'s source under the workbook's name, after the names of ``fn``'s own module (its helpers)."""
    source = re.sub(rf"^def {fn.__name__}\(", f"def {new}(", textwrap.dedent(inspect.getsource(fn)), count=1,
                    flags=re.M)
    return f"import {fn.__module__} as _home\n" \
           f"globals().update({{k: v for k, v in vars(_home).items() if k not in globals()}})\n\n{source}\n"


# learner-style solutions where minicnn has no function of the workbook's signature, or where a planted
# mistake reads better in a few lines of numpy than in a fast kernel's
CROSS_ENTROPY = '''
import numpy as np

def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(target)
    loss = -logp[np.arange(n), target].sum()
    dz = np.exp(logp)
    dz[np.arange(n), target] -= 1
    if reduction == "mean":
        loss, dz = loss / n, dz / n
    return float(loss), dz

def cross_entropy_backward(dloss, cache, need_target_grad=False):
    return cache * dloss, None
'''
MAX_POOL = '''
import numpy as np

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)

def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(kernel_size if stride is None else stride), _pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for y in range(oh):
        for z in range(ow):
            out[:, :, y, z] = xp[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw].max(axis=(2, 3))
    return out, (x.shape, xp, out, (kh, kw, sh, sw, ph, pw))

def max_pool2d_backward(dout, cache):
    shape, xp, out, (kh, kw, sh, sw, ph, pw) = cache
    dxp = np.zeros_like(xp)
    n, c = shape[:2]
    for y in range(out.shape[2]):
        for z in range(out.shape[3]):
            win = xp[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw].reshape(n, c, -1)
            mask = np.zeros_like(win)
            mask[np.arange(n)[:, None], np.arange(c), win.argmax(axis=2)] = 1
            share = (mask * dout[:, :, y, z][..., None]).reshape(n, c, kh, kw)
            dxp[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw] += share
    return dxp[:, :, ph:ph + shape[2], pw:pw + shape[3]]
'''
COL2IM = '''
def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride), pair(padding)
    n, c, h, w = x_shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    blocks = cols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += blocks[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, ph:ph + h, pw:pw + w]
'''
DROPOUT = '''
import numpy as np

def dropout_forward(x, p, keep):
    scale = x.dtype.type(0) if p == 1 else x.dtype.type(1) / x.dtype.type(1 - p)
    mask = keep * scale
    return x * mask, mask

def dropout_backward(dout, cache):
    return dout * cache
'''
SGD = '''
def sgd_step(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    g = grad + weight_decay * param if weight_decay else grad
    if momentum == 0:
        return param - lr * g, None
    buf = g.copy() if momentum_buffer is None else momentum * momentum_buffer + (1 - dampening) * g
    step = g + momentum * buf if nesterov else buf
    return param - lr * step, buf
'''
ADAM = '''
import numpy as np

def adam_step(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    g = grad + weight_decay * param if weight_decay else grad
    m = b1 * exp_avg + (1 - b1) * g
    v = b2 * exp_avg_sq + (1 - b2) * g * g
    denom = np.sqrt(v) / (1 - b2 ** step) ** 0.5 + eps
    return param - lr / (1 - b1 ** step) * m / denom, m, v
'''
RECURSIVE_ORDER = '''
from minicnn.autograd.engine import Node

def topological_order(root):
    order, seen = [], set()
    def visit(node):
        seen.add(node)
        for edge in node.edges:
            if isinstance(edge, Node) and edge not in seen:
                visit(edge)
        order.append(node)
    visit(root)
    return order[::-1]
'''


def solution(name):
    """Right code for exercise ``name``: minicnn's own (its naive twin's body, or the function itself)."""
    if name in ("linear", "relu", "max_pool2d", "avg_pool2d", "batch_norm"):
        forward, backward = getattr(K, f"{name}_forward_naive"), getattr(K, f"{name}_backward_naive")
        return renamed(forward, f"{name}_forward") + renamed(backward, f"{name}_backward")
    if name == "cross_entropy":
        return renamed(K.cross_entropy_forward_naive, "cross_entropy_forward") + \
            renamed(K.cross_entropy_backward_naive, "cross_entropy_backward")
    if name == "dropout":
        return renamed(K.dropout_forward_naive, "dropout_forward") + renamed(K.dropout_backward, "dropout_backward")
    if name == "im2col":
        return renamed(K.im2col_naive, "im2col") + renamed(K.col2im, "col2im")
    if name == "conv2d_forward":
        return renamed(K.conv2d_forward_naive, "conv2d_forward")
    if name == "conv2d_backward":
        return renamed(K.conv2d_backward_naive, "conv2d_backward")
    if name == "sgd":
        return SGD
    if name == "adam":
        return ADAM
    if name == "engine":
        return renamed(engine.topological_order, "topological_order") + renamed(engine._accumulate, "accumulate")
    raise KeyError(name)


# --------------------------------------------------------------------------- the planted mistakes
# (exercise, what, the file's text: a function of solution(), the diagnosis the grader must name)
def edit(text, old, new):
    assert text.count(old) == 1, f"the planted edit {old!r} no longer matches the solution's source"
    return text.replace(old, new)


PLANTED = [
    # the contract: a float32 input computed in float64, an input modified, an input returned
    ("linear", "float64 arithmetic", lambda s: edit(s, 'np.einsum("ni,oi->no", x, weight)',
                                                    'np.einsum("ni,oi->no", x.astype(np.float64), weight)'),
     "dtype float64, expected float32"),
    ("relu", "x modified in place", lambda s: edit(s, "return np.maximum(x, np.zeros((), dtype=x.dtype)), x",
                                                   "return np.maximum(x, 0, out=x), x.copy()"),
     "relu_forward modified its argument 1"),
    ("relu", "dout returned itself", lambda s: edit(s, "return np.where(x > 0, dout, np.zeros((), dtype=dout.dtype))",
                                                    "dout[x <= 0] = 0\n    return dout"),
     "relu_backward returned (a view of) an array it was given"),
    # the numbers
    ("linear", "dweight transposed", lambda s: edit(s, '"no,ni->oi", dout, x', '"no,ni->io", dout, x'),
     "dweight transposed"),
    ("linear", "dbias averaged", lambda s: edit(s, "dout.sum(axis=0)", "dout.mean(axis=0)"), "dbias is the mean"),
    ("relu", "the gradient passed at 0",
     lambda s: edit(s, "return np.where(x > 0, dout,", "return np.where(x >= 0, dout,"),
     "passes the gradient where x == 0"),
    ("relu", "no mask", lambda s: edit(s, "return np.where(x > 0, dout, np.zeros((), dtype=dout.dtype))",
                                       "return dout.copy()"), "dout unchanged"),
    ("cross_entropy", "no log-sum-exp", lambda s: edit(CROSS_ENTROPY, 
        "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"), "overflowed"),
    ("cross_entropy", "not averaged", lambda s: edit(CROSS_ENTROPY, "loss, dz = loss / n, dz / n",
                                                                      "loss, dz = loss / n, dz"), "not divided by N"),
    ("cross_entropy", "dloss ignored", lambda s: edit(CROSS_ENTROPY, "return cache * dloss, None",
                                                                       "return cache.copy(), None"),
     "upstream gradient dloss is ignored"),
    ("max_pool2d", "every tied maximum", lambda s: edit(MAX_POOL, 
        "mask = np.zeros_like(win)\n            mask[np.arange(n)[:, None], np.arange(c), win.argmax(axis=2)] = 1",
        "mask = (win == win.max(axis=2, keepdims=True)).astype(win.dtype)"), "both (every) tied maxima"),
    ("max_pool2d", "overlaps assigned", lambda s: edit(s, "np.add.at(dx, (nn_[..., None, None], cc[..., None, None], "
                                                          "argmax), dout)",
                                                       "dx[nn_[..., None, None], cc[..., None, None], argmax] = dout"),
     "must get the sum of their gradients"),
    ("max_pool2d", "zero padding", lambda s: edit(MAX_POOL, "constant_values=-np.inf", "constant_values=0"),
     "padding counted as 0"),
    ("im2col", "col2im assigns",
     lambda s: renamed(K.im2col_naive, "im2col") + edit(COL2IM, "] += blocks", "] = blocks"),
     "col2im must add"),
    ("conv2d_forward", "flipped kernel", lambda s: edit(s, "np.tensordot(patch, weight[outs],",
                                                        "np.tensordot(patch, weight[outs][:, :, ::-1, ::-1],"),
     "the kernel is flipped"),
    ("conv2d_backward", "dweight flipped", lambda s: edit(s, "return dx, dweight, dbias",
                                                          "return dx, dweight[:, :, ::-1, ::-1].copy(), dbias"),
     "dweight rotated 180 degrees"),
    ("conv2d_backward", "dx assigned", lambda s: edit(s, "dxp[window] += ", "dxp[window] = "),
     "dx must add where windows overlap"),
    ("avg_pool2d", "no divisor", lambda s: edit(s, "(dout[..., y, xo] / dtype.type(divisor[y, xo]))",
                                                "(dout[..., y, xo])"), "divisor forgotten"),
    ("avg_pool2d", "shares assigned", lambda s: edit(s, "dx[..., h0[y]:h1[y], w0[xo]:w1[xo]] +=",
                                                     "dx[..., h0[y]:h1[y], w0[xo]:w1[xo]] ="),
     "overlapping windows' shares must add up"),
    ("batch_norm", "no mean term", lambda s: edit(s, " + dmean / cache.count", ""), "missing the mean term"),
    ("batch_norm", "no variance term", lambda s: edit(s, " + dvar * 2 * centred / cache.count", ""),
     "missing the variance term"),
    ("batch_norm", "eps outside the root", lambda s: edit(s, "(1 / np.sqrt(var + eps))", "(1 / (np.sqrt(var) + eps))"),
     "eps outside the square root"),
    ("dropout", "not rescaled", lambda s: edit(DROPOUT, "return dout * cache", "return dout * (cache != 0)"),
     "without its 1 / (1 - p) scale"),
    ("dropout", "p = 1 divides by 0", lambda s: edit(DROPOUT, "x.dtype.type(0) if p == 1 else ", ""),
     "p = 1 drops everything"),
    ("sgd", "the v form", lambda s: edit(SGD, 
        "buf = g.copy() if momentum_buffer is None else momentum * momentum_buffer + (1 - dampening) * g\n"
        "    step = g + momentum * buf if nesterov else buf\n    return param - lr * step, buf",
        "buf = -lr * g if momentum_buffer is None else momentum * momentum_buffer - (1 - dampening) * lr * g\n"
        "    return param + buf, buf"), "the v = mu*v - lr*g form"),
    ("sgd", "a zero start", lambda s: edit(SGD, "buf = g.copy() if", "buf = (1 - dampening) * g if"),
     "the buffer started at zeros"),
    ("adam", "no bias corrections", lambda s: edit(ADAM, 
        "denom = np.sqrt(v) / (1 - b2 ** step) ** 0.5 + eps\n    return param - lr / (1 - b1 ** step) * m / denom",
        "denom = np.sqrt(v) + eps\n    return param - lr * m / denom"), "without its bias corrections"),
    ("adam", "eps under the root", lambda s: edit(ADAM, "np.sqrt(v) / (1 - b2 ** step) ** 0.5 + eps",
                                                          "np.sqrt(v / (1 - b2 ** step) + eps)"),
     "eps under the square root"),
    ("avg_pool2d", "count_include_pad ignored", lambda s: edit(s, "count_include_pad, divisor_override))",
                                                               "True, divisor_override))"), "count_include_pad: True"),
    ("batch_norm", "eval with the batch terms", lambda s: edit(s, "if not cache.training:", "if False:"),
     "eval mode differentiated as if"),
    ("batch_norm", "unbiased variance", lambda s: edit(s, "var = x3.var(axis=axes, dtype=np.float64)",
                                                       "var = x3.var(axis=axes, dtype=np.float64, ddof=1)"),
     "that is the unbiased variance"),
    ("cross_entropy", "'sum' averaged", lambda s: edit(CROSS_ENTROPY, 'if reduction == "mean":', "if True:"),
     "reduction='sum' divided by N"),
    ("max_pool2d", "the last tied maximum", lambda s: edit(MAX_POOL, "win.argmax(axis=2)",
                                                           "win.shape[2] - 1 - win[:, :, ::-1].argmax(axis=2)"),
     "the last of a window's tied maxima"),
    ("linear", "no bias", lambda s: edit(s, "return (out + bias if bias is not None else out)",
                                         "return (out if bias is not None else out)"), "the bias is not added"),
    ("dropout", "forward not rescaled", lambda s: edit(DROPOUT, "return x * mask, mask", "return x * keep, mask"),
     "the forward not rescaled"),
    ("adam", "betas swapped", lambda s: edit(ADAM, "b1, b2 = betas", "b2, b1 = betas"), "beta1 and beta2 swapped"),
    ("sgd", "nesterov ignored", lambda s: edit(SGD, "step = g + momentum * buf if nesterov else buf", "step = buf"),
     "nesterov ignored"),
    ("engine", "recursion", lambda s: RECURSIVE_ORDER + renamed(engine._accumulate, "accumulate"),
     "explicit stack"),
    ("engine", "not reversed", lambda s: edit(s, "return post[::-1]", "return post"), "post-order"),
    ("engine", "replaces .grad", lambda s: edit(s, "tensor.grad += grad", "tensor.grad = grad.copy()"),
     "replaced .grad instead of adding"),
    ("engine", "keeps what it does not own", lambda s: edit(s, "tensor.grad = grad if owned else grad.copy()",
                                                            "tensor.grad = grad"), "does not own"),
]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def hypothesis_storage(tmp_path_factory, monkeypatch):
    """The CLI points hypothesis's files away from the working folder (``exercises.hypothesis_home``); here, at a
    temporary folder, and the variable is restored after each test."""
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path_factory.getbasetemp() / "hypothesis"))


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workbook")
    E.init(folder)
    return folder


def write(folder, name, text):
    exercise = E.find(name)
    (folder / exercise.file).write_text(text)
    return exercise


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """A workbook with minicnn's own code in every file."""
    folder = tmp_path_factory.mktemp("solved")
    E.init(folder)
    for exercise in E.EXERCISES:
        write(folder, exercise.name, solution(exercise.name))
    return folder


# --------------------------------------------------------------------------- the grader
@pytest.mark.parametrize("name", [e.name for e in E.EXERCISES])
def test_the_grader_passes_minicnns_own_code(solved, name):
    result = E.check_exercise(solved, E.find(name), EXAMPLES)
    assert result.status == "passed", "\n".join(E.report(result))
    assert len(result.passed) >= 3 and any("torch" in line for line in result.passed)


@pytest.mark.parametrize("name", [e.name for e in E.EXERCISES])
def test_the_untouched_workbook_fails_with_not_implemented(workbook, name):
    result = E.check_exercise(workbook, E.find(name), EXAMPLES)
    assert not result.ok
    if name == "conv2d_backward":   # it runs with exercise 6's forward, which is not written either
        assert result.status == "waiting" and "06 conv2d_forward" in result.message
    else:
        assert result.stage == "contract" and "not implemented" in result.message, result.message


@pytest.mark.parametrize("name, what, make, diagnosis", PLANTED, ids=[f"{p[0]}-{p[1]}" for p in PLANTED])
def test_each_planted_mistake_fails_with_its_diagnosis(solved, tmp_path, name, what, make, diagnosis):
    E.init(tmp_path)
    exercise = E.find(name)
    for need in exercise.needs:
        write(tmp_path, need, solution(need))
    write(tmp_path, name, make(solution(name)))
    result = E.check_exercise(tmp_path, exercise, EXAMPLES)
    text = "\n".join(E.report(result))
    assert result.status == "failing", text
    assert diagnosis in f"{result.message}\n{result.looks_like}", text
    if name != "engine" and result.stage in ("torch agreement", "central differences"):   # the element, named
        assert re.search(r"(\[\d+(, \d+)*\])?: (expected \S+ \(torch(\.optim)?\), got|your backward gives)",
                         result.message), text


# --------------------------------------------------------------------------- the workbook's files
def test_the_workbook_holds_signatures_and_no_solution(workbook):
    """Every function the learner writes is a docstring and ``raise NotImplementedError``, nothing more; the
    kernels' signatures are minicnn's own (the names of kernels.REGISTRY and its arguments)."""
    import ast
    for exercise in E.EXERCISES:
        tree = ast.parse((workbook / exercise.file).read_text())
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert set(exercise.functions) <= set(functions), exercise.file
        for name in exercise.functions:
            body = functions[name].body
            assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), f"{name}: no docstring"
            raises = len(body) == 2 and isinstance(body[1], ast.Raise) and "NotImplementedError" in ast.unparse(body[1])
            assert raises, f"{exercise.file}: {name} holds more than its docstring and raise NotImplementedError"
    minicnn_functions = {"im2col": K.im2col, "col2im": K.col2im, "topological_order": engine.topological_order,
                         "accumulate": engine._accumulate, **{f"{op}_{way}": getattr(K, f"{op}_{way}")
                                                              for op in K.REGISTRY for way in ("forward", "backward")}}
    compared = 0
    for exercise in E.EXERCISES:
        module = E.load_file(workbook / exercise.file)
        for name in exercise.functions:
            if name not in minicnn_functions:
                continue
            ours = [(p.name, p.default) for p in inspect.signature(getattr(module, name)).parameters.values()]
            theirs = [(p.name, p.default) for p in inspect.signature(minicnn_functions[name]).parameters.values()
                      if not p.name.startswith("_")]
            assert ours == theirs, f"{exercise.file}: {name}{ours} is not minicnn's {name}{theirs}"
            compared += 1
    assert compared == 20


def test_every_pointer_of_the_workbook_lands(workbook):
    """``docs/PAGE.md#anchor`` in a workbook file names a page and a heading it has (GitHub's anchors, as
    tests/test_docs.py computes them)."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from test_docs import anchors
    finally:
        sys.path.remove(str(REPO / "tests"))
    found = 0
    for exercise in E.EXERCISES:
        pointers = re.findall(r"docs/([\w-]+\.md)#([\w-]+)", (workbook / exercise.file).read_text())
        assert pointers, f"{exercise.file} points to no section of the docs"
        for page, anchor in pointers:
            assert (REPO / "docs" / page).is_file(), f"{exercise.file}: no docs/{page}"
            assert anchor in anchors(REPO / "docs" / page), f"{exercise.file}: docs/{page} has no #{anchor}"
            found += 1
    assert found >= len(E.EXERCISES)


def test_a_learners_file_loads_by_path_and_errors_are_one_line(tmp_path):
    (tmp_path / "a.py").write_text("import numpy as np\n\ndef f(x):\n    return x +\n")
    with pytest.raises(E.LoadError, match=r"a\.py:4: SyntaxError: invalid syntax$"):
        E.load_file(tmp_path / "a.py")
    (tmp_path / "b.py").write_text("x = 1\ny = undefined_name\n")
    with pytest.raises(E.LoadError, match=r"b\.py:2: NameError: name 'undefined_name' is not defined$"):
        E.load_file(tmp_path / "b.py")
    (tmp_path / "c.py").write_text("def relu_forward(x):\n    return x, None\n")
    assert E.load_file(tmp_path / "c.py").relu_forward(3) == (3, None)


def test_an_exception_in_the_learners_code_is_reported_at_their_line(tmp_path):
    E.init(tmp_path)
    text = solution("relu").replace("return np.where(x > 0, dout,", "return np.where(x > 0, dout[0, 0, 0, 0, 0],")
    write(tmp_path, "relu", text)
    result = E.check_exercise(tmp_path, E.find("relu"), EXAMPLES)
    assert result.stage == "contract"
    assert re.match(r"relu_backward raised IndexError at 02_relu\.py:\d+: ", result.message), result.message


# --------------------------------------------------------------------------- kernels.use with your own functions
def test_use_takes_a_mapping_of_your_functions_per_thread():
    import threading

    import minicnn
    import minicnn.functional as F
    calls = []

    def forward(x):
        calls.append("forward")
        return K.relu_forward_naive(x)

    def backward(dout, cache):
        calls.append("backward")
        return K.relu_backward_naive(dout, cache)
    seen = []
    with K.use({"relu_forward": forward, "relu_backward": backward}):
        x = minicnn.Tensor(np.array([-1.0, 2.0]), requires_grad=True)
        F.relu(x).sum().backward()
        other = threading.Thread(target=lambda: seen.append(K.current().relu_forward))
        other.start()
        other.join()
        assert K.current().conv2d_forward is K.IMPLEMENTATIONS["fast"].conv2d_forward   # the rest: the fast set
    assert calls == ["forward", "backward"] and x.grad.tolist() == [0.0, 1.0]
    assert seen == [K.IMPLEMENTATIONS["fast"].relu_forward] and K.current() is K.IMPLEMENTATIONS["fast"]
    with pytest.raises(ValueError, match="no kernel named 'relu_fwd'"):
        with K.use({"relu_fwd": forward}):
            pass
    with pytest.raises(TypeError, match="expected a function for 'relu_forward', got int"):
        with K.use({"relu_forward": 3}):
            pass
    with pytest.raises(TypeError, match="got list"):
        with K.use([forward]):
            pass


def test_use_takes_a_module_and_picks_its_kernel_names(solved):
    module = E.load_file(solved / E.find("linear").file)   # it also holds the kernels module's helpers
    with K.use(module):
        assert K.current().linear_forward is module.linear_forward
        assert K.current().relu_forward is K.IMPLEMENTATIONS["fast"].relu_forward
    with pytest.raises(ValueError, match="defines none of the kernel names"):
        with K.use(np):
            pass


# --------------------------------------------------------------------------- the command line
def run_cli(capsys, *args):
    code = cli.main(["exercises", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_the_workbook_and_refuses_to_overwrite_it(tmp_path, capsys):
    folder = tmp_path / "ws"
    code, out, _ = run_cli(capsys, "init", folder)
    assert code == 0 and sorted(p.name for p in folder.iterdir()) == [e.file for e in E.EXERCISES]
    assert all((folder / e.file).read_text() == E.template(e) for e in E.EXERCISES)
    (folder / "01_linear.py").write_text("# my work\n")
    code, out, err = run_cli(capsys, "init", folder)
    assert code == 1 and err.count("\n") == 1 and "01_linear.py exists (and 12 more); --force" in err and not out
    assert (folder / "01_linear.py").read_text() == "# my work\n"
    assert not list(folder.glob(".*.tmp")), "an atomic write left a temp file"
    code, _, _ = run_cli(capsys, "init", folder, "--force")
    assert code == 0 and (folder / "01_linear.py").read_text() == E.template(E.EXERCISES[0])


@pytest.mark.parametrize("args, message", [
    (("check", "{tmp}/nowhere"), "no workbook in {tmp}/nowhere (no such folder); start one with"),
    (("status", "{tmp}/file.txt"), "no workbook in {tmp}/file.txt (not a folder)"),
    (("check", "{tmp}"), "no workbook in {tmp} (none of its files"),
    (("init", "{tmp}/file.txt"), "file.txt is a file, not a folder"),
    (("check", "{ws}", "no_such_exercise"), "no exercise 'no_such_exercise'; expected one of linear, relu"),
    (("status", "{ws}", "relu"), "exercises status: takes no NAME"),
    (("check", "{ws}", "--force"), "--force is for `minicnn exercises init` only"),
    (("init", "{tmp}/new", "--train"), "--train is for `minicnn exercises check` only"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, workbook, capsys, args, message):
    (tmp_path / "file.txt").write_text("")
    args = [a.format(tmp=tmp_path, ws=workbook) for a in args]
    code, out, err = run_cli(capsys, *args)
    assert code == 1 and not out and err.count("\n") == 1 and "Traceback" not in err
    assert message.format(tmp=tmp_path, ws=workbook) in err, err


def test_a_syntax_error_in_the_learners_file_is_one_line(tmp_path, capsys):
    E.init(tmp_path)
    (tmp_path / "02_relu.py").write_text("import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0\n")
    code, out, err = run_cli(capsys, "check", tmp_path, "relu")
    assert code == 1 and "Traceback" not in out + err
    assert out.splitlines() == [f"02 relu: FAILED at loading", f"  FAIL  {tmp_path}/02_relu.py:4: SyntaxError: '(' was "
                                                                  f"never closed"]
    assert err == "minicnn: error: exercise 02 relu: failing at loading\n"


def test_check_reports_the_first_failure_and_status_the_table(tmp_path, capsys, monkeypatch):
    E.init(tmp_path)
    write(tmp_path, "linear", solution("linear"))
    write(tmp_path, "relu", edit(solution("relu"), "return np.where(x > 0, dout,", "return np.where(x >= 0, dout,"))
    code, out, err = run_cli(capsys, "check", tmp_path)
    assert code == 1 and err == "minicnn: error: exercise 02 relu: failing at torch agreement\n"
    lines = out.splitlines()
    assert lines[0] == "01 linear: passed" and "02 relu: FAILED at torch agreement" in lines
    assert any(line.startswith("  looks like: ReLU backward passes the gradient where x == 0") for line in lines)
    assert "03 cross_entropy: not started" in lines and lines[-1] == "13 engine: not started"
    cache = json.loads((tmp_path / ".progress.json").read_text())
    assert cache["exercises"]["linear"]["status"] == "passed"
    assert cache["exercises"]["relu"]["summary"] == "failing at torch agreement"

    def no_check(*args, **kwargs):
        raise AssertionError("status graded an exercise whose files did not change")
    monkeypatch.setattr("minicnn.exercises.commands.check_exercise", no_check)
    code, out, _ = run_cli(capsys, "status", tmp_path)
    assert code == 0 and out.splitlines()[:4] == ["exercise            status", "01 linear           passed",
                                                  "02 relu             failing at torch agreement",
                                                  "03 cross_entropy    not started"]
    assert out.splitlines()[-1] == "1 of 13 passed"
    monkeypatch.undo()
    write(tmp_path, "relu", solution("relu"))   # fixed: status grades it again
    rows = dict((e.name, s) for e, s in E.status_rows(tmp_path, EXAMPLES))
    assert rows["relu"] == "passed" and rows["linear"] == "passed"
    assert json.loads((tmp_path / ".progress.json").read_text())["exercises"]["relu"]["status"] == "passed"
    (tmp_path / ".progress.json").write_text("{not json")   # a broken cache is rebuilt, never trusted
    assert dict((e.name, s) for e, s in E.status_rows(tmp_path, EXAMPLES))["relu"] == "passed"


def test_train_kernels_refuses_an_unfinished_workbook_naming_the_exercise(tmp_path, capsys):
    E.init(tmp_path)
    write(tmp_path, "linear", solution("linear"))
    code = cli.main(["train", "--kernels", str(tmp_path), "--no-progress", "--out", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1
    assert f"--kernels {tmp_path}: exercise 02 relu is unfinished (not started); SimpleCNN runs on linear, relu" in err
    for args, message in [(["--backend", "torch"], "not with --backend torch"),
                          (["--model-arg", "fused=true"], "drop --model-arg fused=true")]:
        assert cli.main(["train", "--kernels", str(tmp_path), *args]) == 1
        assert message in capsys.readouterr()[1]


def test_train_kernels_trains_simplecnns_layers_on_the_learners_kernels(solved, tmp_path, capsys, monkeypatch):
    import minicnn.train
    ran = {}

    def fake_train(cfg):
        current = K.current()
        ran.update(model_kwargs=cfg.model_kwargs, out=cfg.out,
                   ours={name: getattr(current, name).__module__ for name in ("linear_forward", "conv2d_backward",
                                                                               "relu_backward", "sigmoid_forward")})
    monkeypatch.setattr(minicnn.train, "train", fake_train)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--kernels", str(solved), "--no-progress"]) == 0
    assert ran["model_kwargs"] == {"fused": False} and ran["out"] == "runs/kernels"
    assert ran["ours"]["linear_forward"].startswith("minicnn_workbook_01_linear")
    assert ran["ours"]["conv2d_backward"].startswith("minicnn_workbook_07_conv2d_backward")
    assert ran["ours"]["sigmoid_forward"] == "minicnn.kernels.activation"   # no exercise: minicnn's own
    assert "training on your kernels from" in capsys.readouterr()[1]
    assert K.current() is K.IMPLEMENTATIONS["fast"]


@pytest.mark.slow
def test_train_compares_simplecnn_on_the_learners_kernels_with_minicnns(solved, mnist_root):
    from minicnn.exercises.training import compare_training
    lines = []
    yours, theirs = compare_training(E.kernels_for_training(solved), out=lines.append, data_dir=mnist_root,
                                     limit=1280)
    assert abs(yours - theirs) <= 0.3 and theirs > 30, lines
    assert lines[-1].startswith("within 0.3 points of minicnn's")


CONV_WITH_IM2COL = '''
import numpy as np
from minicnn.exercises import load

im2col = load(__file__, "im2col").im2col

def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    (n, c, h, w), (o, _, kh, kw) = x.shape, weight.shape
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = (weight.reshape(o, -1) @ im2col(x, (kh, kw), stride, padding)).reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    if bias is not None:
        out = out + bias[:, None, None]
    return np.ascontiguousarray(out), (x, weight, bias is not None, stride, padding)
'''


def test_an_exercise_uses_the_learners_own_im2col(tmp_path):
    """06's template says how to use your im2col of exercise 5 (``minicnn.exercises.load``): the grader runs it."""
    E.init(tmp_path)
    write(tmp_path, "im2col", solution("im2col"))
    write(tmp_path, "conv2d_forward", CONV_WITH_IM2COL)
    assert E.load(tmp_path / "06_conv2d_forward.py", "im2col").im2col.__module__.startswith("minicnn_workbook_05")
    result = E.check_exercise(tmp_path, E.find("conv2d_forward"), EXAMPLES)
    assert result.ok, "\n".join(E.report(result))
    write(tmp_path, "im2col", edit(solution("im2col"), "cols[:, i, j] = shifted.transpose(1, 0, 2, 3)",
                                   "cols[:, i, j] = shifted.transpose(1, 0, 2, 3)[:, ::-1]"))   # the batch reversed
    result = E.check_exercise(tmp_path, E.find("conv2d_forward"), EXAMPLES)
    assert result.stage == "torch agreement" and "conv2d_forward out[" in result.message
