"""``torch.accelerator`` as seen from minicnn: no accelerator, ever (the CPU is not one, as in torch)."""


def is_available():
    return False


def current_accelerator(check_available=False):
    """None: there is no accelerator."""
    return None


def device_count():
    return 0
