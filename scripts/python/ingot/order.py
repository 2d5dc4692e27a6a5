"""The window order of ingot-train (train/data_loader.c, train/tr_rng.c), bit for bit.

The train split is one stream of N tokens; window w is tokens [w*T, w*T + T + 1) for
w < W = (N - 1) // T. Epoch e visits all W windows in a Fisher-Yates permutation drawn
from xoshiro256** seeded by (seed ^ splitmix64(e), stream 2), or in stream order
(--data-order sequential). Windows are consumed one after another across epochs: the
q-th window of the run is perm_{q // W}[q % W]. A checkpoint's (data_epoch, data_index)
is q = epoch * W + index.

Data parallelism (train/tr_dist_run.c): step s takes the global windows [s*G, (s+1)*G)
with G = batch * world * accum (accum micro-steps per rank); every rank reads the whole
step and rank r runs its contiguous share of micro-steps [r*accum, (r+1)*accum), so at
its micro-step m it takes rows j < batch of q = s*G + (r*accum + m)*batch + j. The
global batches do not depend on the world size."""
import array
import operator

import numpy as np

M64 = (1 << 64) - 1
STREAM_SHUFFLE = 2
SEED_MAX = (1 << 63) - 1   # ingot-train's --seed: 0 to 2^63 - 1


def check_seed(seed, what="seed", top=SEED_MAX):
    """seed as a Python int in [0, top], else TypeError (None, "1", 1.5: they failed
    late, deep in the hashing) or ValueError (out of range: 2^64 hashed as 0 and gave
    seed 0's order). top: SEED_MAX for a run's --seed, M64 for a source's seed (the
    mixed 64-bit values source_seed() gives)."""
    if isinstance(seed, bool):
        raise TypeError("%s: %r; an integer from 0 to %d" % (what, seed, top))
    try:
        v = operator.index(seed)
    except TypeError:
        raise TypeError("%s: %r; an integer from 0 to %d (ingot-train's --seed)"
                        % (what, seed, top)) from None
    if not 0 <= v <= top:
        raise ValueError("%s: %d; an integer from 0 to %d (ingot-train's --seed)"
                         % (what, v, top))
    return v


def check_position(q, what="run position"):
    """q as a Python int >= 0 (a window of the run), else TypeError / ValueError."""
    if isinstance(q, bool):
        raise TypeError("%s: %r; an integer >= 0" % (what, q))
    try:
        v = operator.index(q)
    except TypeError:
        raise TypeError("%s: %r; an integer >= 0" % (what, q)) from None
    if v < 0:
        raise ValueError("%s: %d; an integer >= 0 (there is no window before the run's "
                         "first)" % (what, v))
    return v


def mix64(x):
    """splitmix64 finaliser (tr_mix64)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Rng:
    """xoshiro256** seeded like tr_rng_seed(seed, stream)."""

    def __init__(self, seed, stream):
        x = mix64(seed & M64) ^ mix64((stream * 0x632BE59BD9B4E019 + 1) & M64)
        s = []
        for _ in range(4):
            x = mix64(x)
            s.append(x)
        if not any(s):
            s[0] = 1
        self.s = s

    def next(self):
        s = self.s
        out = ((((s[1] * 5) & M64) << 7 | ((s[1] * 5) & M64) >> 57) & M64) * 9 & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
        return out

    def below(self, n):
        """Uniform in [0, n): Lemire's multiply-shift with rejection (tr_rng_below)."""
        m = self.next() * n
        lo = m & M64
        if lo < n:
            thresh = ((1 << 64) - n) % n
            while lo < thresh:
                m = self.next() * n
                lo = m & M64
        return m >> 64


def epoch_permutation(n_windows, seed, epoch):
    """The window order of one epoch under --data-order shuffled (a uint64 array).
    Pure Python: about a second per million windows; cache it per epoch. The windows
    are shuffled in an array of 8 bytes each, which numpy then shares: a list of Python
    ints took 60 bytes a window at its peak (18 GB for SlimPajama's 300M windows of
    2048)."""
    seed = check_seed(seed, top=M64)
    epoch = check_position(epoch, "epoch")
    p = array.array("Q", range(n_windows))
    r = Rng((seed ^ mix64(epoch)) & M64, STREAM_SHUFFLE)
    for i in range(n_windows - 1, 0, -1):
        j = r.below(i + 1)
        p[i], p[j] = p[j], p[i]
    return np.frombuffer(p, dtype=np.uint64)


class WindowOrder:
    """Window number of the run's q-th window, as the trainer takes them."""

    def __init__(self, n_windows, seed=1337, sequential=False):
        if n_windows < 1:
            raise ValueError("the train split holds no window")
        # a source's own seed (source_seed) may use all 64 bits
        seed = check_seed(seed, top=M64)
        self.n_windows, self.seed, self.sequential = n_windows, seed, sequential
        self._epoch, self._perm = None, None

    def window(self, q):
        epoch, index = divmod(check_position(q), self.n_windows)
        if self.sequential:
            return index
        if epoch != self._epoch:
            self._perm, self._epoch = epoch_permutation(self.n_windows, self.seed, epoch), epoch
        return int(self._perm[index])


def rank_windows(step, micro, rank, world, batch, accum):
    """Run positions q of the rows of micro-step micro (< accum, this rank's count) of
    rank rank at step step: the rank's contiguous share of the step (see above)."""
    step = check_position(step, "step")
    if not (0 <= rank < world and 0 <= micro < accum):
        raise ValueError("rank %d of %d, micro-step %d of %d" % (rank, world, micro, accum))
    g = batch * world * accum
    first = step * g + (rank * accum + micro) * batch
    return range(first, first + batch)


# Mixtures (--data DIR:WEIGHT repeated; train/data_loader.c). The source of the run's
# n-th window is a pure function of (seed, n): a counter-based hash against the
# cumulative weights. Each source keeps its own window order (source 0 seeded by
# --seed, source i by mix64(seed ^ mix64(i))) and its own epochs, advanced only by the
# windows taken from it.
MIX_TRAIN = 0x6d697874


def mix_uniform(seed, what, n):
    """Uniform in [0, 1) from (seed, what, n) alone (mix_uniform in data_loader.c)."""
    h = mix64((mix64((seed ^ mix64(what)) & M64) + n) & M64)
    return (h >> 11) * 2.0 ** -53


def cumulative_weights(weights):
    """The loader's cumulative normalised weights, in its order of float operations (the
    last is exactly 1.0)."""
    if not weights or any(not (w > 0.0) or w == float("inf") for w in weights):
        raise ValueError("weights %r: positive finite numbers" % (weights,))
    total = 0.0
    for w in weights:
        total += w
    cum, out = 0.0, []
    for i, w in enumerate(weights):
        cum += w
        out.append(1.0 if i == len(weights) - 1 else cum / total)
    return out


def source_seed(seed, i):
    """Seed of source i's permutations: source 0 keeps the run's seed."""
    return seed & M64 if i == 0 else mix64((seed ^ mix64(i)) & M64)


class MixtureOrder:
    """(source, window) of the run's q-th window of a mixture, as the trainer takes them.

    n_windows   train windows of an epoch, per source (in --data order)
    weights     the --data weights (relative)
    taken       windows already taken from each source at the start (a checkpoint's
                settings["data_position"]["sources"][i]["windows"]); None: a fresh run.
                The start is then q = sum(taken).

    Finding a source's position needs every draw before q, so positions are walked
    forward from the start (about half a million draws a second); asking for an earlier q
    walks again from the start."""

    def __init__(self, n_windows, weights, seed=1337, sequential=False, taken=None):
        if len(n_windows) != len(weights) or not n_windows:
            raise ValueError("%d sources, %d weights" % (len(n_windows), len(weights)))
        if any(n < 1 for n in n_windows):
            raise ValueError("a source holds no train window: %r" % (n_windows,))
        seed = check_seed(seed)
        self.n_windows, self.seed = list(n_windows), seed
        self.cum = cumulative_weights(list(weights))
        self.orders = [WindowOrder(n, source_seed(seed, i), sequential)
                       for i, n in enumerate(n_windows)]
        self.start_taken = list(taken) if taken is not None else [0] * len(n_windows)
        if len(self.start_taken) != len(n_windows) or any(t < 0 for t in self.start_taken):
            raise ValueError("taken %r for %d sources" % (taken, len(n_windows)))
        self.start = sum(self.start_taken)
        self._rewind()

    def _rewind(self):
        self._q, self._taken = self.start, list(self.start_taken)

    def source(self, q):
        """The source of the run's q-th window (needs no state)."""
        u = mix_uniform(self.seed, MIX_TRAIN, q)
        for i, c in enumerate(self.cum[:-1]):
            if u < c:
                return i
        return len(self.cum) - 1

    def window(self, q):
        """(source, window within its train split) of the run's q-th window (q >= start)."""
        q = check_position(q)
        if q < self.start:
            raise ValueError("window %d is before the start %d" % (q, self.start))
        if q < self._q:
            self._rewind()
        while self._q < q:
            self._taken[self.source(self._q)] += 1
            self._q += 1
        i = self.source(q)
        return i, self.orders[i].window(self._taken[i])

    def taken(self, q):
        """Windows taken from each source before the run's q-th window."""
        self.window(q)
        return list(self._taken)
