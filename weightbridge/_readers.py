"""Checkpoint files read lazily: names, shapes and dtypes up front, tensor data only on demand.

Matching needs only signatures, so every reader here parses headers and indices and leaves the
data region of the file untouched until a tensor is converted with `numpy.asarray`.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

SIGNATURE_FORMAT = "weightbridge-signature"
SIGNATURE_VERSION = 1

_TORCH_SUFFIXES = (".pt", ".pth", ".bin")


@dataclass(frozen=True)
class TensorSignature:
    """Shape and dtype of a tensor whose data is not at hand (a leaf of a signature file).

    It has no `__array__`: weightbridge takes it as a shape-only leaf, fit for `my` only.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


@dataclass(frozen=True, eq=False)
class LazyTensor(TensorSignature):
    """A tensor in a checkpoint file, read from disk each time it is converted to an array.

    `location` says where it lives (`file[key]`) so that errors can point at it.
    """

    location: str = ""
    read: Callable[[], np.ndarray] = field(default=None, repr=False)

    def __array__(self, dtype=None, copy=None):
        array = self.read()
        if array.shape != self.shape or array.dtype != self.dtype:
            raise ValueError(
                f"{self.location}: data is {array.dtype.name}{list(array.shape)}, "
                f"the header says {self.dtype.name}{list(self.shape)}"
            )
        return array if dtype is None else array.astype(dtype, copy=False)


def load_lazy(path) -> dict[str, TensorSignature]:
    """Open a checkpoint and return its tensors by name, without reading tensor data.

    Arguments:
        path: a checkpoint file or a folder holding one. Understood are safetensors files
            (`.safetensors`), sharded checkpoints (an `*.index.json` with a `weight_map`, as
            written by transformers), torch files (`.pt`, `.pth`, `.bin`, opened with
            `torch.load(mmap=True, weights_only=True)`), numpy `.npz` archives, TensorFlow
            checkpoints (a prefix, its `.index` file, or a folder with a `checkpoint` file;
            needs tensorflow) and weightbridge signature files (`.json`, shapes only). For a
            folder, the safetensors index or file is preferred, then a torch file.

    Returns:
        A dict from tensor name to a lazy tensor in file order. Each has `.shape` (tuple) and
        `.dtype` (numpy dtype, ml_dtypes for bfloat16 and float8); `numpy.asarray(tensor)`
        reads its data. Nested torch checkpoints get dotted names (`model.encoder.weight`).
        Leaves of a signature file have no data.

    Raises:
        ValueError: the file is missing, of an unknown kind, or broken; the message names it.

    Example:
        >>> their = weightbridge.load_lazy("llama/model.safetensors.index.json")
        >>> new_my = weightbridge.adapt(their, model.state_dict())
    """
    path = Path(path)
    if path.is_dir():
        path = _checkpoint_in_folder(path)
    if _is_tensorflow_checkpoint(path):
        return _load_tensorflow(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    name = path.name.lower()
    if name.endswith(".safetensors"):
        return _load_safetensors(path)
    if name.endswith(".json"):
        return _load_json(path)
    if name.endswith(".npz"):
        return _load_npz(path)
    if name.endswith(_TORCH_SUFFIXES) or zipfile.is_zipfile(path):
        return _load_torch(path)
    raise ValueError(
        f"{path}: unknown checkpoint kind; expected .safetensors, .pt/.pth/.bin, .npz, "
        "a TensorFlow checkpoint, an *.index.json or a signature .json"
    )


def _checkpoint_in_folder(folder: Path) -> Path:
    def only(pattern: str) -> Path | None:
        found = sorted(folder.glob(pattern))
        if len(found) > 1:
            listed = ", ".join(p.name for p in found)
            raise ValueError(f"{folder}: several candidates ({listed}); pass one of them")
        return found[0] if found else None

    for pattern in ("*.safetensors.index.json", "*.safetensors", "*.index.json"):
        found = only(pattern)
        if found is not None:
            return found
    torch_files = [p for p in sorted(folder.iterdir()) if p.name.endswith(_TORCH_SUFFIXES)]
    if len(torch_files) == 1:
        return torch_files[0]
    if len(torch_files) > 1:
        listed = ", ".join(p.name for p in torch_files)
        raise ValueError(f"{folder}: several torch files ({listed}) and no index; pass one")
    found = only("*.npz")
    if found is not None:
        return found
    if (folder / "checkpoint").is_file() or any(folder.glob("*.index")):
        return folder
    raise ValueError(f"{folder}: no checkpoint found (no safetensors, torch, npz or TF files)")


# ---------------------------------------------------------------------------------------------
# safetensors


@functools.cache
def safetensors_dtypes() -> dict[str, np.dtype]:
    """The safetensors dtype codes that have a byte-aligned numpy dtype."""
    import ml_dtypes

    return {
        "BOOL": np.dtype(np.bool_),
        "U8": np.dtype(np.uint8),
        "I8": np.dtype(np.int8),
        "U16": np.dtype(np.uint16),
        "I16": np.dtype(np.int16),
        "U32": np.dtype(np.uint32),
        "I32": np.dtype(np.int32),
        "U64": np.dtype(np.uint64),
        "I64": np.dtype(np.int64),
        "F16": np.dtype(np.float16),
        "BF16": np.dtype(ml_dtypes.bfloat16),
        "F32": np.dtype(np.float32),
        "F64": np.dtype(np.float64),
        "C64": np.dtype(np.complex64),
        "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
        "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
        "F8_E8M0": np.dtype(ml_dtypes.float8_e8m0fnu),
    }


def _load_safetensors(path: Path) -> dict[str, LazyTensor]:
    # Format: u64 little-endian header length, JSON header, then the data region.
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (header_size,) = struct.unpack("<Q", prefix)
        if header_size > os.path.getsize(path) - 8:
            raise ValueError(f"{path}: not a safetensors file (header length {header_size} "
                             "exceeds the file size)")
        try:
            header = json.loads(file.read(header_size))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a safetensors file (header is not JSON: {error})")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a safetensors file (header is not a JSON object)")
    data_start = 8 + header_size
    dtypes = safetensors_dtypes()
    tensors = {}
    data_end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not _is_header_entry(info):
            raise ValueError(f"{path}: header entry of tensor '{name}' is malformed: {info!r}")
        code, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if code not in dtypes:
            raise ValueError(f"{path}: tensor '{name}' has dtype {code}, which weightbridge "
                             f"cannot read (supported: {', '.join(dtypes)})")
        dtype = dtypes[code]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - begin != expected:
            raise ValueError(f"{path}: tensor '{name}' ({code}{list(shape)}) spans "
                             f"{end - begin} bytes, expected {expected}")
        location = f"{path}[{name}]"
        read = functools.partial(_read_region, path, data_start + begin, shape, dtype, location)
        tensors[name] = LazyTensor(shape, dtype, location, read)
        data_end = max(data_end, end)
    if not tensors:
        raise ValueError(f"{path}: holds no tensors")
    size = os.path.getsize(path)
    if data_start + data_end > size:
        raise ValueError(f"{path}: file is truncated (the header needs {data_start + data_end} bytes, "
                         f"the file has {size})")
    return tensors


def _is_header_entry(info) -> bool:
    """A dtype code, a shape and two data offsets, all sizes non-negative integers: anything else would be
    read as some other tensor (a size of 1.5 as 1) or fail far from the header."""
    return (isinstance(info, dict) and isinstance(info.get("dtype"), str) and isinstance(info.get("shape"), list)
            and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
            and all(type(n) is int and n >= 0 for n in info["shape"] + info["data_offsets"]))


def _read_region(path: Path, offset: int, shape, dtype: np.dtype, location: str) -> np.ndarray:
    array = np.empty(shape, dtype)
    buffer = array.reshape(-1).view(np.uint8)
    with open(path, "rb") as file:
        file.seek(offset)
        count = file.readinto(buffer)
    if count != buffer.size:
        raise ValueError(f"{location}: file is truncated ({count} of {buffer.size} bytes)")
    return array


# ---------------------------------------------------------------------------------------------
# JSON: sharded index or signature


def _load_json(path: Path) -> dict[str, TensorSignature]:
    try:
        content = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})")
    if isinstance(content, dict) and content.get("format") == SIGNATURE_FORMAT:
        return _signature_from_json(content, path)
    if isinstance(content, dict) and isinstance(content.get("weight_map"), dict):
        return _load_sharded(path, content["weight_map"])
    raise ValueError(f"{path}: neither a checkpoint index (no 'weight_map') "
                     f"nor a signature (no \"format\": \"{SIGNATURE_FORMAT}\")")


def _load_sharded(index_path: Path, weight_map: Mapping[str, str]) -> dict[str, TensorSignature]:
    by_shard: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        by_shard.setdefault(shard, []).append(name)
    tensors = {}
    for shard in sorted(by_shard):
        shard_path = index_path.parent / shard
        if not shard_path.is_file():
            raise ValueError(f"{index_path}: shard {shard} (holding '{by_shard[shard][0]}') "
                             "does not exist")
        in_shard = load_lazy(shard_path)
        wanted = set(by_shard[shard])
        for name in wanted.difference(in_shard):
            raise ValueError(f"{index_path}: tensor '{name}' is not in its shard {shard}")
        tensors.update((name, t) for name, t in in_shard.items() if name in wanted)
    return tensors


def signature(tensors: Mapping[str, object]) -> dict:
    """The JSON-ready signature of a flat dict of tensors: names, shapes and dtypes in order.

    Arguments:
        tensors: name -> anything with `.shape` and `.dtype` (numpy, torch and jax arrays,
            lazy tensors from `load_lazy`, `jax.ShapeDtypeStruct`).

    Returns:
        `{"format": "weightbridge-signature", "version": 1, "tensors": [{"name", "shape",
        "dtype"}, ...]}`; dtypes are numpy names such as "float32" or "bfloat16".

    Example:
        >>> json.dump(signature(model.state_dict()), open("my.json", "w"))
    """
    return {
        "format": SIGNATURE_FORMAT,
        "version": SIGNATURE_VERSION,
        "tensors": [
            {"name": name, "shape": [int(n) for n in t.shape], "dtype": numpy_dtype(t.dtype).name}
            for name, t in tensors.items()
        ],
    }


def tree_signature(tree, path=None, separator: str | None = None) -> str:
    """The signature of a live model's weights, in their definition order, as JSON text.

    Arguments:
        tree: a weight tree as `weightbridge.adapt` takes it: a torch state dict, Flax or Haiku
            params, nested dicts or lists; leaves need only `.shape` and `.dtype` (meta tensors
            and `jax.ShapeDtypeStruct` work). A tensor under two names is listed once.
        path: where to write it (for `weightbridge convert --like PATH`); None writes nothing.
        separator: what joins nested keys ("." or "/"); inferred as `adapt` does.

    Returns:
        The JSON text (also written to `path`): names, shapes and dtypes. Unlike a safetensors
        file, whose keys are sorted, it keeps the definition order, which is evidence for matching.

    Example:
        >>> weightbridge.signature(model.state_dict(), "my.json")
    """
    from ._leaves import infer_separator, read_leaves

    separator = separator or infer_separator(tree, "my")
    leaves, _, values = read_leaves(tree, "my", separator)
    text = signature_json({leaf.name: value for leaf, value in zip(leaves, values)})
    if path is not None:
        from ._mapping import write_text_atomically

        write_text_atomically(path, text)
    return text


def signature_json(tensors: Mapping[str, object]) -> str:
    """`signature(tensors)` as JSON text with one tensor per line, easy to read and to diff."""
    content = signature(tensors)
    rows = "".join(f"\n  {json.dumps(entry)}," for entry in content.pop("tensors"))
    head = json.dumps(content)[:-1]
    return f'{head}, "tensors": [{rows.rstrip(",")}\n]}}\n'


def save_signature(tensors: Mapping[str, object], path) -> None:
    """Write the signature of `tensors` to `path`, for `weightbridge convert --like path`."""
    Path(path).write_text(signature_json(tensors))


def _signature_from_json(content: dict, path: Path) -> dict[str, TensorSignature]:
    if content.get("version") != SIGNATURE_VERSION:
        raise ValueError(f"{path}: signature version {content.get('version')!r} is not "
                         f"supported (expected {SIGNATURE_VERSION})")
    tensors = {}
    for entry in content.get("tensors", []):
        try:
            name, dtype, shape = entry["name"], entry["dtype"], list(entry["shape"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: malformed signature entry {entry!r}")
        for position, size in enumerate(shape):
            if type(size) is not int or size < 0:
                raise ValueError(f"{path}: tensor '{name}' has shape {json.dumps(shape)}: entry {position} "
                                 f"({json.dumps(size)}) is not a non-negative integer")
        shape = tuple(shape)
        if name in tensors:
            raise ValueError(f"{path}: tensor '{name}' appears twice")
        try:
            tensors[name] = TensorSignature(shape, dtype_from_name(dtype))
        except TypeError:
            raise ValueError(f"{path}: tensor '{name}' has unknown dtype {dtype!r}")
    return tensors


def dtype_from_name(name: str) -> np.dtype:
    """numpy dtype for a name such as "float32" or "bfloat16" (ml_dtypes names included)."""
    import ml_dtypes

    if isinstance(getattr(ml_dtypes, name, None), type):
        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def numpy_dtype(dtype) -> np.dtype:
    """The numpy dtype of a numpy, jax or torch dtype."""
    if type(dtype).__module__.startswith("torch"):
        return _torch_to_numpy_dtypes()[dtype]
    return np.dtype(dtype)


# ---------------------------------------------------------------------------------------------
# numpy .npz


def _load_npz(path: Path) -> dict[str, LazyTensor]:
    # np.load does not mmap archives, so parse each member's .npy header without its data.
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a valid .npz archive ({error})")
    tensors = {}
    with archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            location = f"{path}[{name}]"
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        raise ValueError(f".npy format version {version} is not supported")
            except (ValueError, zipfile.BadZipFile, OSError, EOFError) as error:
                raise ValueError(f"{location}: not a readable .npy member ({error})")
            if dtype.hasobject:
                raise ValueError(f"{location}: holds Python objects, not a tensor")
            read = functools.partial(_read_npz_member, path, info.filename, location)
            tensors[name] = LazyTensor(tuple(shape), dtype, location, read)
    return tensors


def _read_npz_member(path: Path, member: str, location: str) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as file:
            return np.lib.format.read_array(file, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"{location}: cannot read data ({error})")


# ---------------------------------------------------------------------------------------------
# torch


@functools.cache
def _torch_to_numpy_dtypes() -> dict:
    import ml_dtypes
    import torch

    table = {
        torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8,
        torch.int16: np.int16, torch.int32: np.int32, torch.int64: np.int64,
        torch.uint16: np.uint16, torch.uint32: np.uint32, torch.uint64: np.uint64,
        torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64,
        torch.complex64: np.complex64, torch.complex128: np.complex128,
        torch.bfloat16: ml_dtypes.bfloat16,
        torch.float8_e4m3fn: ml_dtypes.float8_e4m3fn, torch.float8_e5m2: ml_dtypes.float8_e5m2,
        torch.float8_e4m3fnuz: ml_dtypes.float8_e4m3fnuz,
        torch.float8_e5m2fnuz: ml_dtypes.float8_e5m2fnuz,
        torch.float8_e8m0fnu: ml_dtypes.float8_e8m0fnu,
    }
    return {key: np.dtype(value) for key, value in table.items()}


def torch_to_numpy(tensor, name: str) -> np.ndarray:
    """A numpy view of the CPU torch tensor `name`; ml_dtypes for the dtypes numpy lacks."""
    import torch

    dtype = _torch_to_numpy_dtypes().get(tensor.dtype)
    if dtype is None:
        raise ValueError(f"tensor '{name}' has torch dtype {tensor.dtype}, which has no numpy equivalent")
    tensor = tensor.detach().cpu()
    if dtype.type.__module__ == "numpy":
        return tensor.numpy()
    # numpy cannot take these from torch directly: reinterpret the bytes, no float32 detour.
    same_width = {1: torch.uint8, 2: torch.int16}[dtype.itemsize]
    return tensor.view(same_width).numpy().view(dtype)


def _load_torch(path: Path) -> dict[str, LazyTensor]:
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path}: reading torch checkpoints needs torch (pip install torch)")
    # Files in the pre-1.6 format (not zip archives) cannot be memory-mapped; they are read whole.
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes)")
    mmap = zipfile.is_zipfile(path)
    try:
        content = torch.load(path, map_location="cpu", mmap=mmap, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: cannot be read by torch.load ({error or type(error).__name__})")
    if not mmap:
        warnings.warn(f"{path}: legacy torch format, all tensors were read into memory")
    tensors = {}
    for name, tensor in _flatten_torch(content, ""):
        dtype = _torch_to_numpy_dtypes().get(tensor.dtype)
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}' has dtype {tensor.dtype}, "
                             "which has no numpy equivalent")
        location = f"{path}[{name}]"
        read = functools.partial(torch_to_numpy, tensor, name)
        tensors[name] = LazyTensor(tuple(tensor.shape), dtype, location, read)
    if not tensors:
        raise ValueError(f"{path}: holds no tensors")
    return tensors


def _flatten_torch(content, prefix: str):
    import torch

    if isinstance(content, torch.Tensor):
        yield prefix, content
    elif isinstance(content, Mapping):
        for key, value in content.items():
            yield from _flatten_torch(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(content, (list, tuple)):
        for index, value in enumerate(content):
            yield from _flatten_torch(value, f"{prefix}.{index}" if prefix else str(index))


# ---------------------------------------------------------------------------------------------
# TensorFlow


_TF_VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _is_tensorflow_checkpoint(path: Path) -> bool:
    if path.is_dir():
        return (path / "checkpoint").is_file() or any(path.glob("*.index"))
    if path.name.endswith(".index"):
        return True
    return not path.exists() and Path(f"{path}.index").is_file()


def _load_tensorflow(path: Path) -> dict[str, LazyTensor]:
    try:
        import tensorflow as tf
    except ImportError:
        raise ValueError(f"{path}: reading TensorFlow checkpoints needs tensorflow "
                         "(pip install tensorflow)")
    prefix = str(path)
    if path.is_dir():
        prefix = tf.train.latest_checkpoint(str(path))
        if prefix is None:
            indices = sorted(path.glob("*.index"))
            if len(indices) != 1:
                raise ValueError(f"{path}: no single TensorFlow checkpoint in this folder")
            prefix = str(indices[0])[: -len(".index")]
    elif prefix.endswith(".index"):
        prefix = prefix[: -len(".index")]
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as error:
        raise ValueError(f"{path}: not a readable TensorFlow checkpoint ({error})")
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    tensors = {}
    for name in sorted(shapes):
        # Skip the object graph, optimizer state and save counter: they are not weights.
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH" or ".OPTIMIZER_SLOT" in name:
            continue
        if name.startswith(("optimizer/", "save_counter/")) or dtypes[name] == tf.string:
            continue
        location = f"{prefix}[{name}]"
        read = functools.partial(_read_tensorflow, reader, name, location)
        dtype = np.dtype(dtypes[name].as_numpy_dtype)
        # Object-based checkpoints end every variable's name alike; the suffix only adds noise.
        short_name = name.removesuffix(_TF_VARIABLE_SUFFIX)
        tensors[short_name] = LazyTensor(tuple(shapes[name]), dtype, location, read)
    if not tensors:
        raise ValueError(f"{path}: TensorFlow checkpoint holds no weights")
    return tensors


def _read_tensorflow(reader, name: str, location: str) -> np.ndarray:
    try:
        return np.asarray(reader.get_tensor(name))
    except Exception as error:
        raise ValueError(f"{location}: cannot read data ({error})")
