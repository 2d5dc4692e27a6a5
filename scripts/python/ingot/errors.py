"""Exceptions of the ingot package. Every message names the file and the field."""


class IngotError(Exception):
    """Base class of every error the package raises on bad input."""


class FormatError(IngotError, ValueError):
    """A file is not what it claims to be (magic, version, sizes, offsets, manifest keys)."""


class ChecksumError(FormatError):
    """A recorded XXH3-64 checksum does not match the bytes: the file is corrupt."""


class MismatchError(IngotError, ValueError):
    """Files that do not belong together: a checkpoint and a dataset of another
    tokenizer or vocabulary (what `ingot-train --resume` refuses), or the sources of a
    mixture made with different tokenizers."""


class VerifyUnavailable(IngotError, RuntimeError):
    """Checksum verification needs the `xxhash` module, which is not importable."""


class TorchUnavailable(IngotError, ModuleNotFoundError):
    """A call asked for torch tensors (device=, to_torch(), IngotTrainDataset) and torch
    is not installed; a ModuleNotFoundError (name "torch"), as a bare import's would be."""
