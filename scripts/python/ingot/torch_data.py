"""PyTorch IterableDataset over TrainWindows (imported only when torch is)."""
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .loader import TrainWindows


class IngotTrainDataset(IterableDataset):
    """Yields (x, y) int64 tensors of [batch, seq_len] per micro-step, in ingot-train's
    window order for this rank (see TrainWindows for the arguments; or give a
    TrainWindows alone: IngotTrainDataset(windows)). Use it with
    DataLoader(ds, batch_size=None); with num_workers > 1 each worker takes every
    n-th micro-step and the DataLoader's in-order round robin keeps the order.
    IngotTrainDataset.from_checkpoint(ck, ...) continues a checkpoint's run (a mixture
    too), as TrainWindows.from_checkpoint does."""

    def __init__(self, ds, seq_len=None, batch=None, **kw):
        super().__init__()
        if isinstance(ds, TrainWindows):
            if seq_len is not None or batch is not None or kw:
                raise TypeError("IngotTrainDataset(windows) takes no other arguments: the "
                                "TrainWindows holds them")
            self.windows = ds
            return
        if seq_len is None or batch is None:
            raise TypeError("IngotTrainDataset(ds, seq_len, batch, ...): seq_len and batch "
                            "are needed (or pass a TrainWindows, or use from_checkpoint)")
        self.windows = TrainWindows(ds, seq_len, batch, **kw)

    @classmethod
    def from_checkpoint(cls, ck, **kw):
        """TrainWindows.from_checkpoint(ck, **kw) (rank, world, steps, data, batch, verify)
        as a PyTorch dataset."""
        return cls(TrainWindows.from_checkpoint(ck, **kw))

    def __iter__(self):
        info = get_worker_info()
        shard, n = (info.id, info.num_workers) if info else (0, 1)
        for rows in self.windows.__iter__(shard, n):
            t = torch.from_numpy(rows).long()
            yield t[:, :-1].contiguous(), t[:, 1:].contiguous()
