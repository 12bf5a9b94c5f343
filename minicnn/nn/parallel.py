"""``torch.nn.parallel`` as seen from a CPU-only library: ``DataParallel`` and ``data_parallel``.

torch's ``DataParallel`` splits a batch across GPUs; without GPUs it ignores ``device_ids`` and calls the
module itself, and so does minicnn's.  ``data_parallel`` with devices named is refused: minicnn runs on
the CPU only.
"""
from ..device import on_cpu
from .module import Module


def _no_devices(op, device_ids, output_device):
    for where in list(device_ids or []) + ([] if output_device is None else [output_device]):
        on_cpu(op, f"cuda:{where}" if isinstance(where, int) else where)


class DataParallel(Module):
    """``torch.nn.DataParallel(module, device_ids=None, output_device=None, dim=0)`` as torch's on a machine
    without GPUs: ``device_ids`` ignored (``[]``), ``forward`` is ``module``'s, and the ``state_dict`` keys
    start with ``module.`` as torch's."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a minicnn Module, got {type(module).__name__}")
        self.module, self.device_ids, self.output_device, self.dim = module, [], None, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``torch.nn.parallel.data_parallel`` on the CPU: ``module(*inputs, **module_kwargs)``."""
    _no_devices("data_parallel", device_ids, output_device)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
