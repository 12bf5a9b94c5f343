"""Module hooks as torch's: ``register_forward_pre_hook``, ``register_forward_hook``,
``register_full_backward_hook``, each returning a handle whose ``remove()`` takes the hook off.

A forward hook sees ``(module, args, output)`` after ``forward`` and may return a replacement output;
a pre-hook sees ``(module, args)`` before it and may return replacement args.  A full backward hook
sees ``(module, grad_input, grad_output)`` once the gradients with respect to the module's inputs
are computed: ``grad_input`` has one entry per positional argument (None for an argument that is not
a Tensor or needs no gradient), ``grad_output`` one per Tensor output.  It is wired into the graph
the way torch wires it: the module's Tensor inputs and outputs pass through identity ops whose
backward collects those gradients.  It may return a replacement ``grad_input`` (a module with one
Tensor input only: with several, the first inputs' gradients have gone on by the time the last
arrives, so minicnn refuses rather than ignore it).

Differences from torch, none of them silent in the results: the gradients a backward hook gets are
numpy arrays (minicnn's ``.grad`` is an array too), not Tensors; and the hook fires when every input
that requires grad has received its gradient (each backward pass, ``retain_graph`` included), so an
input the loss does not depend on at all keeps it from firing where torch would fire with None.
"""
import itertools
from collections import OrderedDict

from ..autograd import Function, Tensor, is_grad_enabled

_ids = itertools.count()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` (or leaving a ``with handle:`` block) removes the hook."""

    def __init__(self, hooks):
        self.hooks_dict_ref = hooks
        self.id = next(_ids)

    def remove(self):
        self.hooks_dict_ref.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks, hook, kind):
    """Put ``hook`` in the ordered dict ``hooks``; the handle that removes it."""
    if not callable(hook):
        raise TypeError(f"{kind}: expected a callable hook, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class _State:
    """One call's gradients on their way to the backward hooks."""

    def __init__(self, module, n_args, n_inputs):
        self.module = module
        self.n_args, self.n_inputs, self.n_outputs = n_args, n_inputs, 0
        self.grad_input = [None] * n_args
        self.grad_output = []
        self.waiting = n_inputs          # input identity nodes still to receive their gradient
        self.outputs_waiting = 0

    def fire(self):
        """Every backward hook in order; the replacement grad_input the last one returned, or None.
        The counts are reset, so another backward through the same graph (``retain_graph``) fires again."""
        replaced = None
        grad_input, grad_output = tuple(self.grad_input), tuple(self.grad_output)
        self.grad_input, self.grad_output = [None] * self.n_args, [None] * len(self.grad_output)
        self.waiting, self.outputs_waiting = self.n_inputs, self.n_outputs
        for hook in tuple(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"{type(self.module).__name__} backward hook: returned {len(result)} "
                                       f"gradients for {len(grad_input)} inputs")
                grad_input = replaced = result
        return replaced


class _HookIdentity(Function):
    """Identity on one Tensor of a hooked call (``index``: its place among the inputs or the outputs)."""

    @staticmethod
    def forward(ctx, x, state, index):
        ctx.state, ctx.index = state, index
        return x.view()


class BackwardHookInput(_HookIdentity):
    """Identity on one input; its backward records that input's gradient and, for the last input, fires."""

    @staticmethod
    def backward(ctx, grad):
        state = ctx.state
        state.grad_input[ctx.index] = grad
        state.waiting -= 1
        if state.waiting == 0:
            replaced = state.fire()
            if replaced is not None:
                if state.n_inputs > 1:
                    raise RuntimeError(f"{type(state.module).__name__} backward hook: a replacement grad_input "
                                       f"is supported for a module with one Tensor input only")
                grad = replaced[ctx.index]
        return grad, None, None


class BackwardHookOutput(_HookIdentity):
    """Identity on one output; its backward records the output's gradient (and fires when no input needs one)."""

    @staticmethod
    def backward(ctx, grad):
        state = ctx.state
        state.grad_output[ctx.index] = grad
        state.outputs_waiting -= 1
        if state.waiting == 0 and state.outputs_waiting == 0:
            state.fire()
        return grad, None, None


def call_with_hooks(module, args, kwargs):
    """``module.forward(*args, **kwargs)`` with the module's hooks around it (what ``Module.__call__`` does)."""
    for hook in tuple(module._forward_pre_hooks.values()):
        result = hook(module, args)
        if result is not None:
            args = result if isinstance(result, tuple) else (result,)
    state = None
    if module._backward_hooks and is_grad_enabled():
        inputs = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        state = _State(module, len(args), len(inputs))
        args = tuple(BackwardHookInput.apply(a, state, i) if i in inputs else a for i, a in enumerate(args))
    out = module.forward(*args, **kwargs)
    for hook in tuple(module._forward_hooks.values()):
        result = hook(module, args, out)
        if result is not None:
            out = result
    if state is not None:
        out = _hook_outputs(out, state)
    return out


def _hook_outputs(out, state):
    single = isinstance(out, Tensor)
    outs = (out,) if single else tuple(out) if isinstance(out, (tuple, list)) else None
    if outs is None:
        raise TypeError(f"{type(state.module).__name__}: a backward hook needs Tensor outputs, got "
                        f"{type(out).__name__}")
    state.grad_output = [None] * len(outs)
    wrapped = []
    for i, o in enumerate(outs):
        if isinstance(o, Tensor) and o.requires_grad:
            state.outputs_waiting += 1
            state.n_outputs += 1
            o = BackwardHookOutput.apply(o, state, i)
        wrapped.append(o)
    return wrapped[0] if single else type(out)(wrapped)


def new_hook_dicts():
    """The three ordered dicts a Module keeps its hooks in."""
    return {"_forward_pre_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_backward_hooks": OrderedDict()}
