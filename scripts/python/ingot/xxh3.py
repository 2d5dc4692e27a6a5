"""XXH3-64 (seed 0), the checksum of every Ingot shard and checkpoint.

Taken from the `xxhash` PyPI package (a dependency of the pip install;
Debian: python3-xxhash) when it is importable; a pure-Python XXH3 would take
minutes per shard, so without it (the package used from a source tree)
verification is refused with a message rather than done slowly."""
import sys

from .errors import VerifyUnavailable

try:
    import xxhash as _xxhash
except ImportError:  # pragma: no cover - depends on the machine
    _xxhash = None

# Hash in pieces so that a memory-mapped multi-GiB block is never copied.
_PIECE = 64 << 20


def available():
    """Whether checksums can be verified here."""
    return _xxhash is not None and hasattr(_xxhash, "xxh3_64")


def xxh3_64(data):
    """XXH3-64 with seed 0 of a bytes-like object (bytes, memoryview, numpy array)."""
    if not available():
        raise VerifyUnavailable(
            "checksum verification needs the xxhash module (XXH3-64), which is not "
            "installed for %s: pip install xxhash (pip install scripts/python installs it), "
            "or apt-get install python3-xxhash for Debian's python3; verify=False opens "
            "without the checksums" % sys.executable)
    mv = memoryview(data).cast("B")
    h = _xxhash.xxh3_64()
    for off in range(0, len(mv), _PIECE):
        h.update(mv[off:off + _PIECE])
    return h.intdigest()
