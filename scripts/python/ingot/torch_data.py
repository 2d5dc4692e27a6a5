"""PyTorch IterableDataset over TrainWindows (imported only when torch is)."""
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .loader import TrainWindows


class IngotTrainDataset(IterableDataset):
    """Yields (x, y) int64 tensors of [batch, seq_len] per micro-step, in ingot-train's
    window order for this rank (see TrainWindows for the arguments). Use it with
    DataLoader(ds, batch_size=None); with num_workers > 1 each worker takes every
    n-th micro-step and the DataLoader's in-order round robin keeps the order."""

    def __init__(self, ds, seq_len, batch, **kw):
        super().__init__()
        self.windows = TrainWindows(ds, seq_len, batch, **kw)

    def __iter__(self):
        info = get_worker_info()
        shard, n = (info.id, info.num_workers) if info else (0, 1)
        for rows in self.windows.__iter__(shard, n):
            t = torch.from_numpy(rows).long()
            yield t[:, :-1].contiguous(), t[:, 1:].contiguous()
