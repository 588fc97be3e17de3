"""Checkpoint conversion as a stream: match signatures, then write one tensor at a time.

The safetensors files are written here rather than with `safetensors.save_file`, which needs
every tensor in memory at once. The header only depends on names, shapes and dtypes, so it is
written first and each tensor's bytes go to their precomputed offset as the tensor is produced.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ._readers import (TensorSignature, dtype_from_name, load_lazy, numpy_dtype, safetensors_dtypes,
                       torch_to_numpy)

DEFAULT_MAX_SHARD_SIZE = "5GB"
_WEIGHTS_NAME = "model.safetensors"

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(size: int | str) -> int:
    """Bytes in a size such as 5_000_000, "5GB" (10^9, as transformers counts) or "512MiB"."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", size)
    if match is None or match.group(2).upper() not in _UNITS:
        raise ValueError(f"size {size!r} is not understood; write it like 5GB, 500MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass(frozen=True)
class _Entry:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass(frozen=True)
class _Shard:
    file_name: str
    entries: tuple[_Entry, ...]
    header: bytes  # length prefix and padded JSON
    offsets: Mapping[str, int]  # absolute file offset of each tensor's bytes

    @property
    def nbytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries)


def _plan(entries: list[_Entry], max_shard_size: int, weights_name: str) -> list[_Shard]:
    # Consecutive tensors fill a shard up to the limit; a larger tensor gets a shard of its own.
    groups: list[list[_Entry]] = []
    size = 0
    for entry in entries:
        if not groups or (groups[-1] and size + entry.nbytes > max_shard_size):
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += entry.nbytes
    if len(groups) == 1:
        names = [weights_name]
    else:
        stem, suffix = weights_name.rsplit(".", 1)
        names = [f"{stem}-{i + 1:05d}-of-{len(groups):05d}.{suffix}" for i in range(len(groups))]
    return [_shard(name, group) for name, group in zip(names, groups)]


def _shard(file_name: str, entries: list[_Entry]) -> _Shard:
    codes = {dtype: code for code, dtype in safetensors_dtypes().items()}
    # Wider elements first (stable), so every tensor starts at a multiple of its element size.
    layout = sorted(entries, key=lambda entry: -entry.dtype.itemsize)
    header: dict = {"__metadata__": {"format": "pt"}}
    relative, position = {}, 0
    for entry in layout:
        relative[entry.name] = position
        header[entry.name] = {"dtype": codes[entry.dtype], "shape": list(entry.shape),
                              "data_offsets": [position, position + entry.nbytes]}
        position += entry.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data_start = 8 + len(text)
    offsets = {name: data_start + offset for name, offset in relative.items()}
    return _Shard(file_name, tuple(entries), struct.pack("<Q", len(text)) + text, offsets)


_CHUNK_BYTES = 4 * 2**20
_TILE = 256


def _as_numpy(tensor, name: str) -> np.ndarray:
    if type(tensor).__module__.startswith("torch"):
        tensor = torch_to_numpy(tensor, name)
    array = np.asarray(tensor)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array


def _write_array(file, array: np.ndarray) -> None:
    """Writes the bytes of `array` in C order. A strided view (a transposed layout) is copied
    slab by slab, a matrix in square tiles: numpy's one-pass copy misses the cache on every
    element, and slabs need no second whole tensor in memory."""
    if array.flags.c_contiguous:
        file.write(array.reshape(-1).view(np.uint8).data)
        return
    rows = _TILE if array.ndim == 2 else max(1, _CHUNK_BYTES // max(1, array[0].nbytes))
    for start in range(0, len(array), rows):
        block = array[start : start + rows]
        if block.ndim == 2:
            slab = np.empty(block.shape, block.dtype)
            for column in range(0, block.shape[1], _TILE):
                slab[:, column : column + _TILE] = block[:, column : column + _TILE]
        else:
            slab = np.ascontiguousarray(block)
        file.write(slab.reshape(-1).view(np.uint8).data)


def write_safetensors(tensors: Iterable[tuple[str, object]], like: Mapping[str, object], out,
                      max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
                      progress: bool = False) -> list[Path]:
    """Stream tensors into safetensors files shaped like `like`, one tensor in memory at a time.

    Arguments:
        tensors: `(name, tensor)` pairs in any order, each name of `like` exactly once; numpy,
            torch and jax tensors and anything `numpy.asarray` accepts.
        like: name -> leaf with `.shape` and `.dtype`, in the order of the output. Each tensor
            must have exactly this shape and dtype.
        out: a `.safetensors` file, or a folder (created if needed) that receives
            `model.safetensors`. Above `max_shard_size` bytes the output is split as
            transformers does, into `model-00001-of-0000N.safetensors` files next to a
            `model.safetensors.index.json` (named after `out`'s stem for a file).
        max_shard_size: bytes per file, an int or a string such as "5GB" or "2GiB".
        progress: show a tqdm progress bar on stderr.

    Returns:
        The paths written, the index last if there is one. Nothing appears under these paths
        until every tensor has been written; a failure leaves no output behind.

    Raises:
        ValueError: a tensor is missing, unexpected, repeated, or of the wrong shape or dtype;
            the message names it.
    """
    entries = [_Entry(name, tuple(int(n) for n in leaf.shape), numpy_dtype(leaf.dtype))
               for name, leaf in like.items()]
    supported = set(safetensors_dtypes().values())
    for entry in entries:
        if entry.dtype not in supported:
            raise ValueError(f"tensor '{entry.name}': safetensors cannot store dtype "
                             f"{entry.dtype.name}")
    out = Path(out)
    weights_name = out.name if out.suffix == ".safetensors" else _WEIGHTS_NAME
    shards = _plan(entries, parse_size(max_shard_size), weights_name)
    files = {shard.file_name: b"" for shard in shards}
    if len(shards) > 1:
        files[f"{weights_name}.index.json"] = _index(shards)

    with _Staging(out, list(files)) as staging, _progress_bar(entries, progress) as bar:
        _write_shards(tensors, entries, shards, staging, bar)
        for name, content in files.items():
            if content:
                staging.path(name).write_bytes(content)
        return staging.commit()


def _write_shards(tensors, entries: list[_Entry], shards: list[_Shard], staging: _Staging,
                  bar: _progress_bar) -> None:
    shard_of = {entry.name: shard for shard in shards for entry in shard.entries}
    remaining = {shard.file_name: len(shard.entries) for shard in shards}
    with contextlib.ExitStack() as open_files:
        handles = {}
        for name, array in _checked(tensors, entries, bar):
            shard = shard_of[name]
            if shard.file_name not in handles:
                handle = open_files.enter_context(open(staging.path(shard.file_name), "wb"))
                handle.write(shard.header)
                handles[shard.file_name] = handle
            handle = handles[shard.file_name]
            handle.seek(shard.offsets[name])
            _write_array(handle, array)
            del array
            remaining[shard.file_name] -= 1
            if remaining[shard.file_name] == 0:
                handles.pop(shard.file_name).close()


def _index(shards: list[_Shard]) -> bytes:
    weight_map = {entry.name: shard.file_name for shard in shards for entry in shard.entries}
    index = {"metadata": {"total_size": sum(shard.nbytes for shard in shards)},
             "weight_map": weight_map}
    return (json.dumps(index, indent=2, sort_keys=True) + "\n").encode()


class _Staging:
    """Files written under temporary names and renamed into place only on success.

    A new output folder is built as a hidden sibling and renamed as a whole; in an existing
    folder each file gets a hidden temporary name, and the index is renamed last.
    """

    def __init__(self, out: Path, file_names: list[str]):
        self.file_names = file_names
        if output_kind(out) != "folder":
            self.folder, self.new_folder = out.parent, None
        elif out.exists() and not out.is_dir():
            raise ValueError(f"{out}: exists and is not a folder; name a .safetensors file "
                             "or a folder")
        else:
            self.folder, self.new_folder = out, None if out.exists() else out
        parent = self.folder.parent if self.new_folder else self.folder
        if not parent.is_dir():
            raise ValueError(f"{parent}: output folder does not exist")
        self.temp_folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        if self.new_folder is not None:
            # mkdtemp makes the folder private; the output folder gets the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            self.temp_folder.chmod(0o777 & ~umask)

    def path(self, file_name: str) -> Path:
        return self.temp_folder / file_name

    def commit(self) -> list[Path]:
        if self.new_folder is not None:
            os.rename(self.temp_folder, self.new_folder)
        else:
            for name in self.file_names:
                os.replace(self.temp_folder / name, self.folder / name)
            self.temp_folder.rmdir()
        self.temp_folder = None
        return [self.folder / name for name in self.file_names]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.temp_folder is not None:
            shutil.rmtree(self.temp_folder, ignore_errors=True)


class _progress_bar:
    def __init__(self, entries: list[_Entry], enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            total = sum(entry.nbytes for entry in entries)
            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                            desc="convert", dynamic_ncols=True)

    def update(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.update(nbytes)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.bar is not None:
            self.bar.close()


OUTPUT_KINDS = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch", ".bin": "torch",
                ".npz": "npz", ".msgpack": "msgpack"}


def output_kind(out) -> str:
    """What `out` names: "safetensors", "torch", "npz", "msgpack" (by extension) or "folder"."""
    out = Path(out)
    kind = OUTPUT_KINDS.get(out.suffix.lower())
    if kind is not None:
        return kind
    if out.suffix == "" or out.is_dir():
        return "folder"
    raise ValueError(f"{out}: unknown output kind {out.suffix!r}; name a .safetensors, .pt, .bin, "
                     ".npz or .msgpack file, or a folder (sharded safetensors)")


def check_output(out, dtypes: Iterable = ()) -> str:
    """Checks, before any work, that `out` can be written and can hold `dtypes`; returns its kind.

    Raises ValueError naming the problem: an unknown extension, a missing or unwritable folder,
    a file where a folder is meant (or the other way round), a dtype the format cannot store.
    """
    out = Path(out)
    kind = output_kind(out)
    if kind == "folder" and out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder; name a file with a known extension "
                         "or a folder")
    if kind != "folder" and out.is_dir():
        raise ValueError(f"{out}: is a folder; name a file or a new path")
    check_writable_folder(out if kind == "folder" and out.is_dir() else out.parent)
    storable = {"safetensors": set(safetensors_dtypes().values()), "folder": set(safetensors_dtypes().values()),
                # numpy's .npy header has no name for the ml_dtypes types: they read back as raw bytes.
                "npz": {dtype for dtype in safetensors_dtypes().values() if dtype.type.__module__ == "numpy"}}
    if kind in storable:
        for dtype in dtypes:
            dtype = numpy_dtype(dtype)
            if dtype not in storable[kind]:
                raise ValueError(f"{out}: a {kind if kind != 'folder' else 'safetensors'} file cannot "
                                 f"store dtype {dtype.name}; choose another output format")
    return kind


def check_writable_folder(folder: Path) -> None:
    """Raises ValueError unless a file can be created in `folder`."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: output folder does not exist")
    try:
        # Permissions alone do not tell (root, read-only mounts): try to create a file there.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"{folder}: cannot write in this folder ({error.strerror})") from None


def write_tensors(tensors: Iterable[tuple[str, object]], like: Mapping[str, object], out,
                  max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE, progress: bool = False,
                  separator: str = ".") -> list[Path]:
    """Writes `tensors` in the format `out`'s extension names (see `output_kind`).

    Safetensors outputs are streamed (`write_safetensors`); `.npz` archives are written member by
    member; `.pt`/`.bin` (a torch state dict for `torch.load`) and `.msgpack` (Flax's
    `serialization.msgpack_restore`, nested at `separator`) hold every tensor in memory once.
    Nothing appears at `out` unless every tensor was written.
    """
    kind = output_kind(out)
    if kind in ("safetensors", "folder"):
        return write_safetensors(tensors, like, out, max_shard_size=max_shard_size, progress=progress)
    out = Path(out)
    entries = [_Entry(name, tuple(int(n) for n in leaf.shape), numpy_dtype(leaf.dtype))
               for name, leaf in like.items()]
    with _Staging(out, [out.name]) as staging, _progress_bar(entries, progress) as bar:
        arrays = _checked(tensors, entries, bar)
        target = staging.path(out.name)
        if kind == "npz":
            with zipfile.ZipFile(target, "w") as archive:
                for name, array in arrays:
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
        elif kind == "torch":
            import torch

            from ._decode import _to_torch

            by_name = dict((name, _to_torch(array)) for name, array in arrays)
            torch.save({entry.name: by_name[entry.name] for entry in entries}, target)
        else:
            from flax import serialization

            nested: dict = {}
            by_name = dict(arrays)
            for entry in entries:
                *modules, leaf = entry.name.split(separator)
                node = nested
                for module in modules:
                    node = node.setdefault(module, {})
                node[leaf] = by_name[entry.name]
            target.write_bytes(serialization.msgpack_serialize(nested))
        return staging.commit()


def _checked(tensors, entries: list[_Entry], bar: _progress_bar):
    """Yields `(name, numpy array)`, each checked against its entry; every entry exactly once."""
    expected = {entry.name: entry for entry in entries}
    seen = set()
    for name, tensor in tensors:
        entry = expected.pop(name, None)
        if entry is None:
            raise ValueError(f"tensor '{name}' {'is written twice' if name in seen else 'is not in the target'}")
        seen.add(name)
        array = _as_numpy(tensor, name)
        del tensor
        if array.shape != entry.shape or array.dtype != entry.dtype:
            raise ValueError(f"tensor '{name}' is {array.dtype.name}{list(array.shape)}, "
                             f"the target wants {entry.dtype.name}{list(entry.shape)}")
        yield name, array
        del array  # the consumer has written it: one tensor in memory at a time
        bar.update(entry.nbytes)
    if expected:
        listed = ", ".join(f"'{name}'" for name in list(expected)[:5])
        more = f" and {len(expected) - 5} more" if len(expected) > 5 else ""
        raise ValueError(f"no tensor was produced for {listed}{more}")


def select_key(tensors: Mapping[str, object], key: str | None, side: str = "THEIR") -> dict:
    """The tensors under the top-level entry `key` (`model` of `model.encoder.weight`), renamed
    without it; all tensors for None."""
    if key is None:
        return dict(tensors)
    prefix = key.rstrip(".") + "."
    selected = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
    if not selected:
        entries = ", ".join(repr(entry) for entry in _top_level(tensors))
        raise ValueError(f"{side} has no entry {key!r}; its top-level entries are {entries}")
    return selected


def _top_level(tensors: Mapping[str, object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in tensors:
        first = name.split(".", 1)[0]
        counts[first] = counts.get(first, 0) + 1
    return counts


# Entries a training loop saves next to the weights (torch's optimizer.state_dict(), schedulers).
_TRAINING_STATE = ("optim", "scheduler", "scaler")


def check_not_training_checkpoint(tensors: Mapping[str, object], side: str = "THEIR") -> None:
    """Refuses a whole training checkpoint (`{'epoch', 'model', 'optimizer'}`), naming the entry to take."""
    entries = _top_level(tensors)
    training = [entry for entry in entries if any(word in entry.lower() for word in _TRAINING_STATE)]
    weights = {entry: count for entry, count in entries.items() if entry not in training}
    if training and weights:
        suggestion = max(weights, key=weights.get)
        listed = ", ".join(repr(entry) for entry in entries)
        raise ValueError(f"{side} looks like a training checkpoint (top-level entries {listed}); "
                         f"pass key={suggestion!r} to take the weights under {suggestion!r}")


def convert(their, like=None, out=None, hints: Iterable[tuple[str, str]] = (), *, in_format=None,
            out_format=None, ignore_unmatched_inputs: bool = False,
            ignore_unmatched_outputs: bool = False, key: str | None = None, mapping=None,
            cast: str = "safe", max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE,
            progress: bool = False) -> list[Path]:
    """Convert a checkpoint to another implementation's names and layouts.

    Arguments:
        their: the checkpoint holding the weights (any file or folder `load_lazy` reads).
        like: the target implementation: a checkpoint of it, or a signature file written by
            `weightbridge signature` (names, shapes and dtypes only). Optional with `mapping`.
        out: where to write; the extension picks the format: `.safetensors` or a folder
            (sharded, see `write_safetensors`), `.pt`/`.pth`/`.bin` (a torch state dict), `.npz`,
            `.msgpack` (Flax serialization). Checked before anything is matched.
        hints: `(my_substring, their_substring)` pairs, as for `weightbridge.match`.
        in_format, out_format: axis orders of both sides ("pytorch", "flax", ...), as for
            `weightbridge.match`.
        ignore_unmatched_inputs: allow weights in `their` that no target weight needs.
        ignore_unmatched_outputs: allow target weights without a partner; they are not written.
        key: take only the tensors under this top-level entry of `their` (`"model"` of a
            training checkpoint).
        mapping: a mapping file saved by `Mapping.save` (or a `Mapping`): used instead of matching.
        cast: "safe" refuses a dtype cast that changes values beyond rounding (overflow, float
            to int); "unsafe" allows it.
        max_shard_size: bytes per output file, e.g. "5GB".
        progress: show a progress bar on stderr.

    Returns:
        The paths written. Memory stays near the size of the largest output tensor for
        safetensors and `.npz`; only signatures are held for the whole run.

    Example:
        >>> convert("llama-hf/", like="my_llama.json", out="converted/")
    """
    from ._mapping import Mapping as WeightMapping
    from ._progress import stage

    if out is None:
        raise ValueError("convert needs an output path (out=)")
    if like is None and mapping is None:
        raise ValueError("convert needs the target (like=) or a saved mapping (mapping=)")
    output_kind(out)
    if mapping is not None:
        if not isinstance(mapping, WeightMapping):
            mapping = load_mapping(mapping)
        my_tensors = {name: TensorSignature(shape, dtype_from_name(dtype))
                      for name, shape, dtype in mapping.my_signature}
        check_output(out, [leaf.dtype for leaf in my_tensors.values()])
        with stage(f"reading {their}"):
            their_tensors = _read_their(their, key)
        _check_mapping_fits(mapping, their_tensors)
    else:
        def check(their_tensors, my_tensors):
            check_output(out, [leaf.dtype for leaf in my_tensors.values()])

        their_tensors, my_tensors, mapping = match_files(
            their, like, hints=hints, key=key, in_format=in_format, out_format=out_format,
            ignore_unmatched_inputs=ignore_unmatched_inputs,
            ignore_unmatched_outputs=ignore_unmatched_outputs, on_read=check)
    produced = {pair.my for pair in mapping.pairs}
    like_written = {name: leaf for name, leaf in my_tensors.items() if name in produced}
    with stage(f"writing {out}"):
        return write_tensors(mapping.iter_apply(their_tensors, cast=cast), like_written, out,
                             max_shard_size=max_shard_size, progress=progress,
                             separator=_separator(my_tensors))


def match_files(their, like, hints: Iterable[tuple[str, str]] = (), *, key: str | None = None,
                in_format=None, out_format=None, ignore_unmatched_inputs: bool = False,
                ignore_unmatched_outputs: bool = False, on_read=None):
    """Match two checkpoint files (or a checkpoint and a signature): `(their, my, mapping)`.

    Arguments are as for `convert`; `on_read(their_tensors, my_tensors)` is called once both
    signatures are read, before matching (to check outputs, or to keep the names for a report).
    """
    from ._match import match
    from ._progress import stage

    with stage(f"reading {their}"):
        their_tensors = _read_their(their, key)
    with stage(f"reading {like}"):
        my_tensors = load_lazy(like)
    if on_read is not None:
        on_read(their_tensors, my_tensors)
    with stage("matching"):
        # Both sides are flat: a name is its key whichever separator it uses.
        mapping = match(their_tensors, my_tensors, hints=list(hints), in_format=in_format,
                        out_format=out_format, in_separator=_separator(their_tensors),
                        out_separator=_separator(my_tensors),
                        ignore_unmatched_inputs=ignore_unmatched_inputs,
                        ignore_unmatched_outputs=ignore_unmatched_outputs)
    return their_tensors, my_tensors, mapping


def _read_their(their, key: str | None) -> dict:
    tensors = select_key(load_lazy(their), key)
    if key is None:
        check_not_training_checkpoint(tensors)
    return tensors


def load_mapping(path):
    """A mapping file read back, with errors that name the file."""
    from ._mapping import Mapping as WeightMapping

    try:
        return WeightMapping.load(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such mapping file") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a weightbridge mapping file ({error})") from None


def _check_mapping_fits(mapping, their_tensors: Mapping[str, object]) -> None:
    """A saved mapping is only valid for the signature it was made for."""
    expected = {name: (tuple(shape), dtype) for name, shape, dtype in mapping.their_signature}
    for pair in mapping.pairs:
        for name in pair.their:
            tensor = their_tensors.get(name)
            if tensor is None:
                raise ValueError(f"THEIR lacks {name!r}, which the mapping takes for {pair.my!r}; "
                                 "the mapping was made for another checkpoint")
            shape, dtype = expected[name]
            if tuple(tensor.shape) != shape or numpy_dtype(tensor.dtype).name != dtype:
                raise ValueError(f"THEIR {name!r} is {numpy_dtype(tensor.dtype).name}{list(tensor.shape)}, "
                                 f"the mapping was made for {dtype}{list(shape)}")


def _separator(tensors: Mapping[str, object]) -> str:
    return "/" if any("/" in name for name in tensors) else "."
