"""Read Ingot datasets and checkpoints from Python (numpy; PyTorch when present).

    import ingot
    ds = ingot.open_dataset("data/")
    ds.document(0, split="train")          # ids as stored, a numpy array
    x, y = ds.get_batch("train", 8, 256)   # nanoGPT-style random batch (numpy; device=: torch)

See docs/python.md."""
import importlib.util

from .checkpoint import Checkpoint, latest_checkpoint, open_checkpoint
from .dataset import Dataset, Split, open_dataset
from .errors import (ChecksumError, FormatError, IngotError, MismatchError, TorchUnavailable,
                     VerifyUnavailable)
from .loader import TrainWindows
from .order import MixtureOrder, WindowOrder, epoch_permutation
from .shard import Shard
from .xxh3 import available as can_verify

__version__ = "0.1.0"
__all__ = ["open_dataset", "open_checkpoint", "latest_checkpoint", "Dataset", "Split", "Shard", "Checkpoint",
           "TrainWindows", "WindowOrder", "MixtureOrder", "epoch_permutation",
           "IngotError", "FormatError", "ChecksumError", "MismatchError", "VerifyUnavailable",
           "TorchUnavailable",
           "can_verify"]
# from ingot import * takes the PyTorch dataset only where torch is installed (found,
# not imported: torch takes seconds to import)
if importlib.util.find_spec("torch") is not None:
    __all__.append("IngotTrainDataset")


def __getattr__(name):
    # torch is optional: import it only when its dataset class is asked for
    if name == "IngotTrainDataset":
        from .torch_import import import_torch
        import_torch("ingot.IngotTrainDataset (a PyTorch IterableDataset)",
                     "ingot.TrainWindows gives the same batches as numpy arrays")
        from .torch_data import IngotTrainDataset
        return IngotTrainDataset
    raise AttributeError("module 'ingot' has no attribute %r" % name)
