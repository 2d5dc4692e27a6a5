"""PyTorch, imported only by the calls that give torch tensors: the package itself
needs numpy (and xxhash for checksums), not torch."""
import sys

from .errors import TorchUnavailable


def import_torch(what, instead):
    """The torch module, or TorchUnavailable naming what asked for it, this Python, the
    pip command and what gives the same without torch (instead). A torch that is
    installed but fails to import raises its own error."""
    try:
        import torch
    except ModuleNotFoundError as e:
        if e.name != "torch":
            raise
        raise TorchUnavailable(
            "%s needs PyTorch, which is not installed for %s: pip install torch (a CUDA or "
            "CPU-only build: https://pytorch.org/get-started); %s"
            % (what, sys.executable, instead),
            name="torch") from None
    return torch
