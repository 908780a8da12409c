"""Reading legacy PyTorch state dicts without torch: values, strided views, and refusals.

The files are written here opcode by opcode (torch is not installed), in the layout torch's
legacy ``torch.save`` used: five pickles, then each storage's bytes after its element count.
"""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from deepfake_core.torch_weights import TorchWeightsError, read_state_dict

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}


def _text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _ints(values) -> bytes:
    return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"  # MARK, BININT..., TUPLE


def _state_dict_pickle(tensors: dict[str, tuple[str, np.dtype, int, tuple, tuple]], extra: bytes = b"") -> bytes:
    """``OrderedDict(name -> _rebuild_tensor_v2(storage, offset, shape, strides, False, OrderedDict()))``."""
    ordered_dict = b"ccollections\nOrderedDict\n)R"  # GLOBAL, EMPTY_TUPLE, REDUCE
    ops = b"\x80\x02" + ordered_dict
    for name, (key, dtype, offset, shape, strides) in tensors.items():
        storage = b"(" + _text("storage") + f"ctorch\n{_STORAGE[dtype]}\n".encode() + _text(key)
        storage += _text("cpu") + b"J" + struct.pack("<i", 99) + b"tQ"  # TUPLE, BINPERSID
        ops += _text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        ops += storage + b"J" + struct.pack("<i", offset) + _ints(shape) + _ints(strides) + b"\x89" + ordered_dict
        ops += b"tRs"  # TUPLE, REDUCE, SETITEM
    return ops + extra + b"."


def _legacy_file(path, state_pickle: bytes, storages: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as file:
        for header in (_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, file, protocol=2)
        file.write(state_pickle)
        pickle.dump(list(storages), file, protocol=2)
        for array in storages.values():
            file.write(struct.pack("<q", array.size) + array.astype(array.dtype.newbyteorder("<")).tobytes())


def test_reads_tensors_views_and_offsets(tmp_path):
    kernel = np.arange(24, dtype="float32").reshape(2, 3, 2, 2)
    shared = np.arange(10, dtype="float32")
    path = tmp_path / "weights.pth"
    tensors = {
        "conv.weight": ("0", np.dtype("float32"), 0, (2, 3, 2, 2), (12, 4, 2, 1)),
        "fc.weight_t": ("1", np.dtype("float32"), 0, (2, 3), (1, 2)),  # a transposed view of a 3x2 storage
        "fc.bias": ("1", np.dtype("float32"), 6, (4,), (1,)),  # the same storage, from element 6
        "bn.num_batches_tracked": ("2", np.dtype("int64"), 0, (), ()),
    }
    _legacy_file(path, _state_dict_pickle(tensors), {"0": kernel.ravel(), "1": shared, "2": np.array([7])})
    state = read_state_dict(path)
    assert list(state) == list(tensors)
    np.testing.assert_array_equal(state["conv.weight"], kernel)
    np.testing.assert_array_equal(state["fc.weight_t"], shared[:6].reshape(3, 2).T)
    np.testing.assert_array_equal(state["fc.bias"], [6, 7, 8, 9])
    assert state["bn.num_batches_tracked"] == 7 and state["bn.num_batches_tracked"].dtype == np.int64
    assert state["conv.weight"].flags.c_contiguous and state["conv.weight"].flags.writeable


def test_a_global_other_than_tensors_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "ran"
    evil = b"cos\nsystem\n(" + _text(f"touch {marker}") + b"tR0"  # GLOBAL os.system, call it, POP
    path = tmp_path / "evil.pth"
    _legacy_file(path, _state_dict_pickle({}, extra=evil), {})
    with pytest.raises(TorchWeightsError, match=r"refused to load os\.system"):
        read_state_dict(path)
    assert not marker.exists()


def test_other_files_get_a_clear_error(tmp_path):
    not_torch = tmp_path / "plain.pth"
    not_torch.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(TorchWeightsError, match="no magic number"):
        read_state_dict(not_torch)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a pickle at all")
    with pytest.raises(TorchWeightsError, match="not a legacy PyTorch state dict"):
        read_state_dict(garbage)


def test_truncated_files_and_views_outside_their_storage_are_refused(tmp_path):
    tensors = {"w": ("0", np.dtype("float32"), 0, (4,), (1,))}
    truncated = tmp_path / "truncated.pth"
    _legacy_file(truncated, _state_dict_pickle(tensors), {"0": np.zeros(4, "float32")})
    truncated.write_bytes(truncated.read_bytes()[:-3])
    with pytest.raises(TorchWeightsError, match="truncated"):
        read_state_dict(truncated)
    views = [
        ("reaches past its storage", 2, (4,), (1,)),
        ("malformed", -1, (2,), (1,)),  # a negative offset or stride would read memory before the storage
        ("malformed", 0, (2,), (-1,)),
        ("malformed", 0, (2, 2), (1,)),  # more sizes than strides
    ]
    for message, offset, shape, strides in views:
        bad = tmp_path / "bad.pth"
        tensors = {"w": ("0", np.dtype("float32"), offset, shape, strides)}
        _legacy_file(bad, _state_dict_pickle(tensors), {"0": np.zeros(4, "float32")})
        with pytest.raises(TorchWeightsError, match=message):
            read_state_dict(bad)
