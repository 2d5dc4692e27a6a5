"""Read Ingot datasets and checkpoints from Python (numpy; PyTorch when present).

    import ingot
    ds = ingot.open_dataset("data/")
    ds.document(0, split="train")          # ids as stored, a numpy array
    x, y = ds.get_batch("train", 8, 256)   # nanoGPT-style random batch

See docs/python.md."""
from .checkpoint import Checkpoint, latest_checkpoint, open_checkpoint
from .dataset import Dataset, Split, open_dataset
from .errors import ChecksumError, FormatError, IngotError, VerifyUnavailable
from .loader import TrainWindows
from .order import MixtureOrder, WindowOrder, epoch_permutation
from .shard import Shard
from .xxh3 import available as can_verify

__version__ = "0.1.0"
__all__ = ["open_dataset", "open_checkpoint", "latest_checkpoint", "Dataset", "Split", "Shard", "Checkpoint",
           "TrainWindows", "WindowOrder", "MixtureOrder", "epoch_permutation", "IngotTrainDataset",
           "IngotError", "FormatError", "ChecksumError", "VerifyUnavailable", "can_verify"]


def __getattr__(name):
    # torch is optional: import it only when its dataset class is asked for
    if name == "IngotTrainDataset":
        from .torch_data import IngotTrainDataset
        return IngotTrainDataset
    raise AttributeError("module 'ingot' has no attribute %r" % name)
