"""Micro-batches in exactly the order ingot-train takes them (see order.py), as numpy
arrays; torch_data.py wraps this in a PyTorch IterableDataset."""
import os
import re
import warnings

import numpy as np

from . import xxh3
from .errors import FormatError, MismatchError
from .order import MixtureOrder, WindowOrder, check_position, check_seed, rank_windows
from .term_text import term_text as _term_text


def _sources(ds):
    """[(Dataset, weight)] of a Dataset, or of a list of Datasets / (Dataset, weight)."""
    if hasattr(ds, "splits"):
        return [(ds, 1.0)]
    out = []
    for s in ds:
        d, w = (s, 1.0) if hasattr(s, "splits") else s
        out.append((d, float(w)))
    if not out:
        raise ValueError("no dataset")
    return out


def parse_data_arg(v):
    """--data DIR[:WEIGHT] as ingot-train reads it (tr_loader_source_add): the weight is
    what follows the last ':' when that is a decimal number; else all of v is the dir."""
    head, sep, tail = v.rpartition(":")
    if sep and tail and not re.search(r"[xXpP]", tail):
        try:
            w = float(tail)
        except ValueError:
            return v, 1.0
        if not (1e-9 <= w <= 1e9):
            raise ValueError("--data %s: weight %r; a number in [1e-9, 1e9]" % (v, tail))
        return head, w
    return v, 1.0


def _setting(ck, st, key, lo):
    """A checkpoint's recorded --KEY: an integer (not a bool or a string), >= lo when
    lo is given; else a FormatError naming the checkpoint and the setting."""
    v = st.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo):
        raise FormatError("%s: settings: %s is %r; %s as ingot-train records it"
                          % (_term_text(ck.path), key, v,
                             "an integer" if lo is None else "an integer >= %d" % lo))
    return v


# ingot-train's --batch x --seq-len limit (train/train_opts.c: 1 << 24)
_WINDOW_TOKENS_MAX = 1 << 24


def _position_count(d, key, where):
    """d[key] as a count >= 0: an integer, not a bool, 0.5 or a string."""
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("%s: %s is %r; a count >= 0 (a checkpoint's settings['data_position'] "
                         "as ingot-train writes it)" % (where, key, v))
    return v


def _sources_of(position):
    """A data position's sources, each {epoch, index, windows} checked as counts."""
    if not isinstance(position, dict):
        raise ValueError("start_position: %r; a checkpoint's settings['data_position'] (a "
                         "dict)" % (position,))
    src = position.get("sources") or []
    if not isinstance(src, list):
        raise ValueError("start_position: sources is %r; a list" % (src,))
    for i, s in enumerate(src):
        for key in ("epoch", "index", "windows"):
            _position_count(s, key, "start_position: source %d" % i)
    return src


def _check_resume(ck, sources):
    """What ingot-train --resume refuses of a checkpoint against its datasets
    (train/train_loop.c, check_resume): another tokenizer (the token ids mean
    different things) or vocabulary (the model's rows), with MismatchError."""
    ckp = _term_text(ck.path)
    ck_hash = ck.header["tokenizer_hash"]
    for d, _ in sources:
        h = d.tokenizer_hash
        if h is not None and h != ck_hash:
            raise MismatchError("%s: the checkpoint's tokenizer (hash %016x) differs from the "
                                "dataset's (%016x in %s): the token ids mean different things; "
                                "pass the dataset the checkpoint was trained on (data=)"
                                % (ckp, ck_hash, h,
                                   os.path.join(_term_text(d.path), "manifest.json")))
        if d.vocab_size != ck.config["vocab"]:
            raise MismatchError("%s: the checkpoint's vocabulary is %d, the dataset %s's %d: "
                                "pass the dataset the checkpoint was trained on (data=)"
                                % (ckp, ck.config["vocab"], _term_text(d.path), d.vocab_size))


def _content_note(ck, sources):
    """A UserWarning for each source whose shards are not the ones the checkpoint
    trained on (the same path converted again, grown or shrunk), as ingot-train
    --resume notes it (train_loop.c, content_note): said, not refused, since
    appending data to a run is a use; the windows go on in the new data's order."""
    # as the package checks checksums: only where xxhash is, silently otherwise
    if not xxh3.available():
        return
    ckp = _term_text(ck.path)
    pos = (ck.settings or {}).get("data_position")
    src = pos.get("sources") if isinstance(pos, dict) else None
    for e, (d, _) in zip(src if isinstance(src, list) else [], sources):
        had = e.get("content") if isinstance(e, dict) else None
        # as tr_settings_source_content: 16 hex digits, else no id recorded (a
        # checkpoint from before it was)
        if not (isinstance(had, str) and re.fullmatch(r"[0-9a-fA-F]{16}", had)):
            continue
        now = d.content_id()
        if int(had, 16) != now:
            warnings.warn(
                "%s: the dataset %s is not the one the checkpoint trained on (its shards "
                "changed since: converted again, or shards added or removed; content %016x, "
                "the checkpoint's %s); the windows go on at the checkpoint's place (epoch %s, "
                "window %s) in this data's order, as ingot-train --resume does, so some "
                "documents may be seen twice and others not at all. Restore the dataset to "
                "continue the run exactly, or start this data from its beginning with "
                "--init-from and a new --ckpt-dir"
                % (ckp, _term_text(d.path), now, had.lower(), e.get("epoch"), e.get("index")),
                UserWarning, stacklevel=3)


class TrainWindows:
    """Iterate a rank's micro-batches: int32 arrays [batch, seq_len + 1] (inputs
    row[:-1], targets row[1:]), micro-step after micro-step, step after step.

    ds          an open Dataset (its train split), or a mixture: a list of Datasets or
                (Dataset, weight) pairs in --data order
    seq_len     T (--seq-len)
    batch       sequences per micro-step and rank (--batch)
    batch_tokens  global tokens per optimizer step (--batch-tokens; default one
                micro-step on every rank): accum = batch_tokens / (T * batch * world)
    seed, sequential   --seed, --data-order sequential
    rank, world  this process among the data-parallel ranks
    start_step  first step to produce (0-based count of steps already done), or
    start_window  one dataset: the run position q to start from, a checkpoint's
                data_epoch * n_windows + data_index (overrides start_step)
    start_position  a checkpoint's settings["data_position"] (the windows taken from
                each source; overrides start_step): a mixture's start, and one
                dataset's too (instead of start_window)
    steps       how many steps to produce (None: forever)

    TrainWindows.from_checkpoint(ck) continues a checkpoint's run."""

    def __init__(self, ds, seq_len, batch, batch_tokens=None, seed=1337, sequential=False,
                 rank=0, world=1, start_step=0, start_window=None, steps=None,
                 start_position=None):
        # as ingot-train's option parser refuses them: a 0 here spun forever or gave
        # empty batches, a negative start an "epoch -1"
        for name, v, lo in (("seq_len", seq_len, 1), ("batch", batch, 1), ("world", world, 1),
                            ("rank", rank, 0), ("start_step", start_step, 0)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise ValueError("%s: %r; an integer >= %d" % (name, v, lo))
        if rank >= world:
            raise ValueError("rank %d: must be below world %d" % (rank, world))
        seed = check_seed(seed)
        if batch_tokens is not None and (not isinstance(batch_tokens, (int, np.integer))
                                         or isinstance(batch_tokens, bool) or batch_tokens < 1):
            raise ValueError("batch_tokens: %r; a positive integer" % (batch_tokens,))
        if start_window is not None and (not isinstance(start_window, (int, np.integer))
                                         or isinstance(start_window, bool) or start_window < 0):
            raise ValueError("start_window: %r; a run position >= 0" % (start_window,))
        # numpy integers as Python ints: the window order's 64-bit hashing takes Python
        # ints (an np.int64 epoch overflowed in mix64)
        seq_len, batch, world, rank, start_step = (int(v) for v in (seq_len, batch, world,
                                                                     rank, start_step))
        batch_tokens = None if batch_tokens is None else int(batch_tokens)
        start_window = None if start_window is None else int(start_window)
        if seq_len * batch > _WINDOW_TOKENS_MAX:   # as ingot-train's --batch and --seq-len
            raise ValueError("batch %d x seq_len %d: more than the %d tokens a micro-step may "
                             "hold" % (batch, seq_len, _WINDOW_TOKENS_MAX))
        self.sources = _sources(ds)
        for d, _ in self.sources:
            split = d.splits["train"]
            if split.n_tokens < seq_len + 1:
                raise ValueError("%s: the train split has %d tokens, --seq-len %d needs %d"
                                 % (_term_text(d.path), split.n_tokens, seq_len, seq_len + 1))
        d0 = self.sources[0][0]
        for d, _ in self.sources[1:]:   # as the loader refuses them (data_loader.c)
            h0 = d0.manifest.get("tokenizer", {}).get("hash")
            h = d.manifest.get("tokenizer", {}).get("hash")
            if h != h0:
                raise MismatchError("%s and %s were made with different tokenizers (hash %s "
                                    "and %s): a mixture needs one tokenizer"
                                    % (_term_text(d0.path), _term_text(d.path), h0, h))
            if d.vocab_size != d0.vocab_size:
                raise MismatchError("%s has a vocabulary of %d and %s one of %d: a mixture "
                                    "needs one vocabulary" % (_term_text(d0.path), d0.vocab_size,
                                                              _term_text(d.path), d.vocab_size))
        per_micro = seq_len * batch * world
        if batch_tokens is None:
            batch_tokens = per_micro
        if batch_tokens % per_micro:
            raise ValueError("batch_tokens %d is not a multiple of seq_len %d x batch %d x "
                             "world %d = %d" % (batch_tokens, seq_len, batch, world, per_micro))
        self.seq_len, self.batch = seq_len, batch
        self.rank, self.world = rank, world
        self.accum = batch_tokens // per_micro
        self.splits = [d.splits["train"] for d, _ in self.sources]
        n_windows = [(s.n_tokens - 1) // seq_len for s in self.splits]
        self.windows_per_step = batch * world * self.accum
        self.steps = steps
        if len(self.sources) == 1:
            if start_position is not None:
                src = _sources_of(start_position)
                if len(src) > 1:
                    raise ValueError("start_position is of a mixture of %d sources; this is "
                                     "one dataset" % len(src))
                if start_window is not None:
                    raise ValueError("give start_window or start_position, not both")
                # one dataset: the windows taken are the run position q
                start_window = (src[0]["windows"] if src else
                                _position_count(start_position, "windows", "start_position"))
                n = n_windows[0]
                if src and (src[0]["epoch"] * n + src[0]["index"] != start_window or
                            src[0]["index"] >= n):
                    raise ValueError("start_position: epoch %s, window %s with %s taken does "
                                     "not add up with %d windows an epoch: another dataset or "
                                     "--seq-len" % (src[0]["epoch"], src[0]["index"],
                                                    src[0]["windows"], n))
            self.split = self.splits[0]
            self.n_windows = n_windows[0]
            self.order = WindowOrder(self.n_windows, seed, sequential)
            self.start = start_window if start_window is not None else start_step * self.windows_per_step
            return
        if start_window is not None:
            raise ValueError("a mixture starts from start_position (a checkpoint's "
                             "settings['data_position']), not start_window")
        taken = None
        if start_position is not None:
            src = _sources_of(start_position)
            if len(src) != len(self.sources):
                raise ValueError("start_position holds %d sources, this mixture has %d"
                                 % (len(src), len(self.sources)))
            taken = [s["windows"] for s in src]
            for i, (s, n) in enumerate(zip(src, n_windows)):
                if s["epoch"] * n + s["index"] != taken[i] or s["index"] >= n:
                    raise ValueError("start_position: source %d (%s) at epoch %s, window %s "
                                     "with %s taken does not add up with %d windows an epoch: "
                                     "another dataset or --seq-len" % (
                                         i, _term_text(self.sources[i][0].path), s["epoch"],
                                         s["index"],
                                         s["windows"], n))
        self.n_windows = sum(n_windows)
        self.order = MixtureOrder(n_windows, [w for _, w in self.sources], seed, sequential,
                                  taken)
        self.start = self.order.start if taken is not None else start_step * self.windows_per_step

    @classmethod
    def from_checkpoint(cls, ck, rank=0, world=1, steps=None, data=None, batch=None,
                        verify=False):
        """The windows a run resumed from checkpoint ck (a Checkpoint, a ckpt-*.bin path
        or a --ckpt-dir, whose newest is taken) takes next (its settings section:
        --data with weights, --seq-len, --batch, --batch-tokens, --seed, --data-order, and
        its data position). data: the dataset directories in --data order, where they
        have moved since (default: the paths the checkpoint records); batch: another
        --batch (the global batch stays the checkpoint's); verify: the datasets' shards
        checked in full, and the checkpoint's checksums required (they are checked
        whenever xxhash is importable). As ingot-train --resume: a dataset of another
        tokenizer or vocabulary than the checkpoint's is refused (MismatchError), and a
        UserWarning says when a source's shards are not the ones the checkpoint trained
        on (the "content" id it records; checked where xxhash is importable)."""
        from .checkpoint import FLAG_SYNTHETIC, open_checkpoint
        from .dataset import open_dataset
        if isinstance(ck, (str, bytes, os.PathLike)):   # a ckpt-*.bin file or a --ckpt-dir
            # its checksums whenever xxhash is here, and required with verify=True (a
            # checkpoint could not be opened at all without xxhash)
            ck = open_checkpoint(ck, verify=verify or xxh3.available())
        st = (ck.settings or {}).get("settings")
        if not st:
            raise ValueError("%s: a version-1 checkpoint has no settings section"
                             % _term_text(ck.path))
        if not isinstance(st, dict):
            raise FormatError("%s: settings: %r is not the object ingot-train records"
                              % (_term_text(ck.path), st))
        # a synthetic run has no tokenizer or dataset to continue (flags bit 1, as
        # train_loop.c's check_resume reads it)
        if st.get("synthetic") or ck.header["flags"] & FLAG_SYNTHETIC:
            raise ValueError("%s: trained on --synthetic data: there are no dataset windows "
                             "to continue" % _term_text(ck.path))
        recorded = st.get("data")
        recorded = [recorded] if isinstance(recorded, str) else recorded
        if not isinstance(recorded, list) or not recorded or \
                not all(isinstance(v, str) for v in recorded):
            raise FormatError("%s: settings: data is %r; the dataset directories as "
                              "ingot-train records them (a list of strings)"
                              % (_term_text(ck.path), recorded))
        T = _setting(ck, st, "seq-len", 1)
        batch_tokens = _setting(ck, st, "batch-tokens", 1)
        seed = _setting(ck, st, "seed", 0)
        if batch is None:
            batch = _setting(ck, st, "batch", 1)
        parsed = [parse_data_arg(v) for v in recorded]
        if data is not None:
            data = [data] if isinstance(data, str) else list(data)
            if len(data) != len(parsed):
                raise ValueError("data: %d directories, the checkpoint's run had %d"
                                 % (len(data), len(parsed)))
            # each source keeps its own position: the recorded ones in another order
            # would continue each from another's (ingot-train refuses it too)
            had = [os.path.realpath(d) for d, _ in parsed]
            now = [os.path.realpath(d) for d in data]
            if now != had and sorted(now) == sorted(had):
                raise ValueError("data: the checkpoint's sources in another order (%s); a "
                                 "mixture resumes from its sources in --data order (%s)"
                                 % (_term_text(", ".join(map(str, data))),
                                    _term_text(", ".join(d for d, _ in parsed))))
            parsed = [(d, w) for d, (_, w) in zip(data, parsed)]
        sources = [(open_dataset(d, verify=verify), w) for d, w in parsed]
        _check_resume(ck, sources)
        pos = (ck.settings or {}).get("data_position") or {}
        kw = dict(batch_tokens=batch_tokens, seed=seed,
                  sequential=st.get("data-order") == "sequential", rank=rank, world=world,
                  steps=steps)
        if len(sources) > 1:
            out = cls(sources, T, batch, start_position=pos, **kw)
        else:
            W = (sources[0][0].splits["train"].n_tokens - 1) // T
            out = cls(sources[0][0], T, batch, start_window=ck.data_position(W), **kw)
        # after the position was found to fit the data: a refusal says it alone
        _content_note(ck, sources)
        return out

    def window_rows(self, qs):
        """Rows of the run positions qs (int32 [len(qs), T + 1])."""
        T = self.seq_len
        qs = [check_position(q) for q in qs]   # -1 was epoch -1's order
        rows = np.empty((len(qs), T + 1), dtype=np.int32)
        for i, q in enumerate(qs):
            if len(self.splits) == 1:
                s, w = 0, self.order.window(q)
            else:
                s, w = self.order.window(q)
            rows[i] = self.splits[s].slice(w * T, w * T + T + 1)
        return rows

    def micro_batch(self, step, micro):
        """Rows of micro-step micro (0 <= micro < accum) of step (>= 0, relative to the
        start) for this rank."""
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
