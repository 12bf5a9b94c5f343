"""``torch.cuda`` as seen from minicnn: no CUDA device, ever.

``is_available()`` is False and ``device_count()`` 0, so the usual
``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU.  ``manual_seed`` and
``manual_seed_all`` do nothing, as torch's do on a machine without CUDA (seed the CPU generator with
:func:`minicnn.manual_seed`).
"""


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Nothing to seed (there is no CUDA generator); torch does nothing either without a GPU."""


manual_seed_all = manual_seed
