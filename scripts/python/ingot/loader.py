"""Micro-batches in exactly the order ingot-train takes them (see order.py), as numpy
arrays; torch_data.py wraps this in a PyTorch IterableDataset."""
import numpy as np

from .order import WindowOrder, rank_windows


class TrainWindows:
    """Iterate a rank's micro-batches: int32 arrays [batch, seq_len + 1] (inputs
    row[:-1], targets row[1:]), micro-step after micro-step, step after step.

    ds          an open Dataset (its train split)
    seq_len     T (--seq-len)
    batch       sequences per micro-step and rank (--batch)
    batch_tokens  global tokens per optimizer step (--batch-tokens; default one
                micro-step on every rank): accum = batch_tokens / (T * batch * world)
    seed, sequential   --seed, --data-order sequential
    rank, world  this process among the data-parallel ranks
    start_step  first step to produce (0-based count of steps already done), or
    start_window  the run position q to start from: a checkpoint's
                data_epoch * n_windows + data_index (overrides start_step)
    steps       how many steps to produce (None: forever)"""

    def __init__(self, ds, seq_len, batch, batch_tokens=None, seed=1337, sequential=False,
                 rank=0, world=1, start_step=0, start_window=None, steps=None):
        split = ds.splits["train"]
        if split.n_tokens < seq_len + 1:
            raise ValueError("the train split has %d tokens, --seq-len %d needs %d"
                             % (split.n_tokens, seq_len, seq_len + 1))
        per_micro = seq_len * batch * world
        if batch_tokens is None:
            batch_tokens = per_micro
        if batch_tokens % per_micro:
            raise ValueError("batch_tokens %d is not a multiple of seq_len %d x batch %d x "
                             "world %d = %d" % (batch_tokens, seq_len, batch, world, per_micro))
        self.split, self.seq_len, self.batch = split, seq_len, batch
        self.rank, self.world = rank, world
        self.accum = batch_tokens // per_micro
        self.n_windows = (split.n_tokens - 1) // seq_len
        self.order = WindowOrder(self.n_windows, seed, sequential)
        self.windows_per_step = batch * world * self.accum
        self.start = start_window if start_window is not None else start_step * self.windows_per_step
        self.steps = steps

    def window_rows(self, qs):
        """Rows of the run positions qs (int32 [len(qs), T + 1])."""
        T = self.seq_len
        rows = np.empty((len(qs), T + 1), dtype=np.int32)
        for i, q in enumerate(qs):
            w = self.order.window(q)
            rows[i] = self.split.slice(w * T, w * T + T + 1)
        return rows

    def micro_batch(self, step, micro):
        """Rows of micro-step micro of step (relative to the start) for this rank."""
        qs = rank_windows(step, micro, self.rank, self.world, self.batch, self.accum)
        return self.window_rows([self.start + q for q in qs])

    def __iter__(self, shard=0, n_shards=1):
        u = 0   # micro-step counter over the whole iteration
        step = 0
        while self.steps is None or step < self.steps:
            for m in range(self.accum):
                if u % n_shards == shard:
                    yield self.micro_batch(step, m)
                u += 1
            step += 1
