"""Building an error never fails: checkpoint files that are missing, broken or of an unknown kind, each named."""

import io
import json
import struct
import sys
import warnings
import zipfile

import numpy as np
import pytest
import torch
from raise_sites import raises_at, site
from safetensors.numpy import save_file

from weightbridge import load_lazy
from weightbridge._convert import write_safetensors
from weightbridge._readers import TensorSignature

SAFETENSORS_DTYPES = "BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64, C64, F8_E4M3, F8_E5M2, F8_E8M0"


def safetensors_bytes(header, data=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def written(path, content):
    path.write_bytes(content)
    return path


def error_of(call, *args, **kwargs):
    """The text of the error a third-party reader raises, which the message quotes."""
    try:
        call(*args, **kwargs)
    except Exception as error:
        return str(error)
    raise AssertionError(f"{call.__name__} raised nothing")


# Files and folders

READERS = "weightbridge._readers"


def signature_bytes(tensors, version=1):
    return json.dumps({"format": "weightbridge-signature", "version": version, "tensors": tensors}).encode()


def npz_bytes(member, content):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(member, content)
    return archive.getvalue()


def npy_bytes(version):
    member = io.BytesIO()
    np.lib.format.write_array(member, np.ones(2), version=version)
    return member.getvalue()


BIAS = {"name": "fc.bias", "dtype": "float32", "shape": [3]}


@pytest.mark.parametrize("file_name, content, raise_site, message", [
    pytest.param("model.onnx", b"\x08\x07", site(READERS, "load_lazy", ValueError),
                 "PATH: unknown checkpoint kind; expected .safetensors, .pt/.pth/.bin, .npz, a TensorFlow checkpoint, "
                 "an *.index.json or a signature .json", id="a file of an unknown kind lists the kinds understood"),
    pytest.param("m.safetensors", b"\x05", site(READERS, "_load_safetensors", ValueError),
                 "PATH: not a safetensors file (shorter than 8 bytes)", id="safetensors shorter than its length prefix"),
    pytest.param("m.safetensors", struct.pack("<Q", 10**9) + b"{}", site(READERS, "_load_safetensors", ValueError),
                 "PATH: not a safetensors file (header length 1000000000 exceeds the file size)",
                 id="safetensors header longer than the file"),
    pytest.param("m.safetensors", safetensors_bytes([1, 2]), site(READERS, "_load_safetensors", ValueError),
                 "PATH: not a safetensors file (header is not a JSON object)", id="safetensors header not an object"),
    pytest.param("m.safetensors", safetensors_bytes({"packed": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}, b"\0"),
                 site(READERS, "_load_safetensors", ValueError),
                 f"PATH: tensor 'packed' has dtype F4, which weightbridge cannot read (supported: {SAFETENSORS_DTYPES})",
                 id="a safetensors dtype without numpy counterpart names its tensor"),
    pytest.param("m.safetensors", safetensors_bytes({"fc.bias": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)),
                 site(READERS, "_load_safetensors", ValueError), "PATH: tensor 'fc.bias' (F32[2]) spans 4 bytes, expected 8",
                 id="safetensors offsets that disagree with the shape name the tensor"),
    pytest.param("m.safetensors", safetensors_bytes({"__metadata__": {"format": "pt"}}), site(READERS, "_load_safetensors", ValueError),
                 "PATH: holds no tensors", id="safetensors of metadata only"),
    pytest.param("m.safetensors", safetensors_bytes({"fc.bias": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4)),
                 site(READERS, "_load_safetensors", ValueError),
                 "PATH: file is truncated (the header needs 83 bytes, the file has 79)", id="safetensors shorter than its header says"),
    pytest.param("config.json", b'{"hidden_size": 8}', site(READERS, "_load_json", ValueError),
                 "PATH: neither a checkpoint index (no 'weight_map') nor a signature (no \"format\": \"weightbridge-signature\")",
                 id="json that is neither index nor signature says what it lacks"),
    pytest.param("model.safetensors.index.json", json.dumps({"weight_map": {"fc.bias": "model-1.safetensors"}}).encode(),
                 site(READERS, "_load_sharded", ValueError), "PATH: shard model-1.safetensors (holding 'fc.bias') does not exist",
                 id="an index naming a missing shard names a tensor it holds"),
    pytest.param("my.json", signature_bytes([], version=2), site(READERS, "_signature_from_json", ValueError),
                 "PATH: signature version 2 is not supported (expected 1)", id="a signature of another version"),
    pytest.param("my.json", signature_bytes([{"name": "fc.bias", "dtype": "float32"}]), site(READERS, "_signature_from_json", ValueError),
                 "PATH: malformed signature entry {'name': 'fc.bias', 'dtype': 'float32'}", id="a signature entry without a shape"),
    pytest.param("my.json", signature_bytes([{**BIAS, "shape": [3, -2]}]), site(READERS, "_signature_from_json", ValueError),
                 "PATH: tensor 'fc.bias' has shape [3, -2]: entry 1 (-2) is not a non-negative integer",
                 id="a signature shape with a negative size names the tensor and the entry"),
    pytest.param("my.json", signature_bytes([BIAS, BIAS]), site(READERS, "_signature_from_json", ValueError),
                 "PATH: tensor 'fc.bias' appears twice", id="a signature listing a tensor twice"),
    pytest.param("my.json", signature_bytes([{**BIAS, "dtype": "float31"}]), site(READERS, "_signature_from_json", ValueError),
                 "PATH: tensor 'fc.bias' has unknown dtype 'float31'", id="a signature with an unknown dtype names the tensor"),
    pytest.param("w.npz", npz_bytes("fc.bias.npy", npy_bytes((3, 0))), site(READERS, "_load_npz", ValueError),
                 "PATH[fc.bias]: not a readable .npy member (.npy format version (3, 0) is not supported)",
                 id="an npz member of a later npy version names the member"),
    pytest.param("model.pt", b"", site(READERS, "_load_torch", ValueError), "PATH: the file is empty (0 bytes)",
                 id="an empty torch file says it is empty"),
])
def test_a_broken_checkpoint_file_is_named_with_what_is_wrong(tmp_path, file_name, content, raise_site, message):
    path = written(tmp_path / file_name, content)
    with raises_at(*raise_site) as error:
        load_lazy(path)
    assert str(error.value) == message.replace("PATH", str(path))


@pytest.mark.parametrize("entry", [
    {"dtype": "F32", "shape": [2]},
    {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]},
    {"dtype": "F32", "shape": [-2], "data_offsets": [8, 0]},
    {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]},
    [2],
])
def test_a_malformed_safetensors_entry_names_its_tensor(tmp_path, entry):
    path = written(tmp_path / "m.safetensors", safetensors_bytes({"fc.bias": entry}, bytes(8)))
    with raises_at("weightbridge._readers", "_load_safetensors", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}: header entry of tensor 'fc.bias' is malformed: {entry!r}"


@pytest.mark.parametrize("file_name, content, raise_site, message, quoted", [
    pytest.param("m.safetensors", struct.pack("<Q", 4) + b"{{{{", site(READERS, "_load_safetensors", ValueError),
                 "PATH: not a safetensors file (header is not JSON: QUOTED)", lambda path: error_of(json.loads, b"{{{{"),
                 id="a safetensors header that is not json"),
    pytest.param("my.json", b'{"format": ', site(READERS, "_load_json", ValueError), "PATH: not valid JSON (QUOTED)",
                 lambda path: error_of(json.loads, path.read_text()), id="a json file that does not parse"),
    pytest.param("w.npz", b"not a zip", site(READERS, "_load_npz", ValueError), "PATH: not a valid .npz archive (QUOTED)",
                 lambda path: error_of(zipfile.ZipFile, path), id="an npz that is not a zip archive"),
    pytest.param("w.npz", npz_bytes("fc.bias.npy", b"junk"), site(READERS, "_load_npz", ValueError),
                 "PATH[fc.bias]: not a readable .npy member (QUOTED)",
                 lambda path: error_of(np.lib.format.read_magic, io.BytesIO(b"junk")), id="an npz member without an npy header"),
    pytest.param("model.pt", b"not a pickle", site(READERS, "_load_torch", ValueError), "PATH: cannot be read by torch.load (QUOTED)",
                 lambda path: error_of(torch.load, path, map_location="cpu", mmap=False, weights_only=True),
                 id="a torch file that torch cannot load"),
])
def test_a_checkpoint_file_its_parser_refuses_quotes_the_parser(tmp_path, file_name, content, raise_site, message, quoted):
    path = written(tmp_path / file_name, content)
    with raises_at(*raise_site) as error:
        load_lazy(path)
    assert str(error.value) == message.replace("PATH", str(path)).replace("QUOTED", quoted(path))


@pytest.mark.parametrize("names, raise_site, message", [
    pytest.param(["b.safetensors", "a.safetensors"], site(READERS, "_checkpoint_in_folder.only", ValueError),
                 "FOLDER: several candidates (a.safetensors, b.safetensors); pass one of them",
                 id="two safetensors files and no index"),
    pytest.param(["pytorch_model.bin", "ema.pt"], site(READERS, "_checkpoint_in_folder", ValueError),
                 "FOLDER: several torch files (ema.pt, pytorch_model.bin) and no index; pass one", id="two torch files and no index"),
    pytest.param(["config.yaml"], site(READERS, "_checkpoint_in_folder", ValueError),
                 "FOLDER: no checkpoint found (no safetensors, torch, npz or TF files)", id="no checkpoint says what it looked for"),
])
def test_a_folder_without_one_checkpoint_is_named_with_what_it_holds(tmp_path, names, raise_site, message):
    for name in names:
        written(tmp_path / name, b"")
    with raises_at(*raise_site) as error:
        load_lazy(tmp_path)
    assert str(error.value) == message.replace("FOLDER", str(tmp_path))


def test_a_path_that_does_not_exist_is_named(tmp_path):
    with raises_at("weightbridge._readers", "load_lazy", ValueError) as error:
        load_lazy(tmp_path / "model.safetensors")
    assert str(error.value) == f"{tmp_path}/model.safetensors: no such file or folder"


def test_a_safetensors_file_truncated_after_it_was_opened_names_the_tensor_read(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"fc.bias": np.ones(2, np.float32)}, path)
    tensors = load_lazy(path)
    path.write_bytes(path.read_bytes()[:-4])
    with raises_at("weightbridge._readers", "_read_region", ValueError) as error:
        np.asarray(tensors["fc.bias"])
    assert str(error.value) == f"{path}[fc.bias]: file is truncated (4 of 8 bytes)"


def test_data_that_disagrees_with_the_header_read_before_is_named(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, w=np.ones(2))
    tensors = load_lazy(path)
    np.savez(path, w=np.ones(3, np.float32))
    with raises_at("weightbridge._readers", "LazyTensor.__array__", ValueError) as error:
        np.asarray(tensors["w"])
    assert str(error.value) == f"{path}[w]: data is float32[3], the header says float64[2]"


# JSON: sharded indices and signatures


def test_an_index_naming_a_tensor_its_shard_lacks_names_both(tmp_path):
    save_file({"fc.bias": np.ones(2, np.float32)}, tmp_path / "model-1.safetensors")
    weight_map = {"fc.bias": "model-1.safetensors", "fc.weight": "model-1.safetensors"}
    path = written(tmp_path / "model.safetensors.index.json", json.dumps({"weight_map": weight_map}).encode())
    with raises_at("weightbridge._readers", "_load_sharded", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}: tensor 'fc.weight' is not in its shard model-1.safetensors"


def test_an_npz_member_of_python_objects_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, names=np.array(["fc", None], dtype=object))
    with raises_at("weightbridge._readers", "_load_npz", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}[names]: holds Python objects, not a tensor"


def test_an_npz_gone_before_its_data_is_read_names_the_member(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(2))
    tensors = load_lazy(path)
    path.unlink()
    with raises_at("weightbridge._readers", "_read_npz_member", ValueError) as error:
        np.asarray(tensors["w"])
    assert str(error.value) == f"{path}[w]: cannot read data ([Errno 2] No such file or directory: '{path}')"


# torch


@pytest.mark.parametrize("file_name, library, raise_site, message", [
    pytest.param("model.pt", "torch", site(READERS, "_load_torch", ValueError),
                 "PATH: reading torch checkpoints needs torch (pip install torch)", id="torch"),
    pytest.param("ckpt.index", "tensorflow", site(READERS, "_load_tensorflow", ValueError),
                 "PATH: reading TensorFlow checkpoints needs tensorflow (pip install tensorflow)", id="tensorflow"),
])
def test_a_checkpoint_whose_library_is_not_installed_says_what_to_install(tmp_path, monkeypatch, file_name, library,
                                                                         raise_site, message):
    path = written(tmp_path / file_name, b"")
    monkeypatch.setitem(sys.modules, library, None)
    with raises_at(*raise_site) as error:
        load_lazy(path)
    assert str(error.value) == message.replace("PATH", str(path))


@pytest.fixture
def complex32():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ComplexHalf support is experimental")
        yield torch.zeros(2, dtype=torch.complex32)


def test_a_torch_tensor_of_a_dtype_numpy_lacks_is_named_when_written(tmp_path, complex32):
    like = {"freqs": TensorSignature((2,), np.complex64)}
    with raises_at("weightbridge._readers", "torch_to_numpy", ValueError) as error:
        write_safetensors([("freqs", complex32)], like, tmp_path / "out.safetensors")
    assert str(error.value) == "tensor 'freqs' has torch dtype torch.complex32, which has no numpy equivalent"


def test_a_torch_file_with_a_dtype_numpy_lacks_names_the_tensor(tmp_path, complex32):
    path = tmp_path / "model.pt"
    torch.save({"rope": {"freqs": complex32}}, path)
    with raises_at("weightbridge._readers", "_load_torch", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}: tensor 'rope.freqs' has dtype torch.complex32, which has no numpy equivalent"


def test_a_torch_file_without_tensors_holds_no_tensors(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"epoch": 3, "config": {"hidden": 8}}, path)
    with raises_at("weightbridge._readers", "_load_torch", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}: holds no tensors"


# TensorFlow


@pytest.fixture
def tf():
    """TensorFlow, imported before a case begins: its import is not what the case is about."""
    import tensorflow

    return tensorflow


def test_a_folder_of_two_tensorflow_checkpoints_without_a_checkpoint_file_is_refused(tmp_path, tf):
    for name in ("ckpt-1.index", "ckpt-2.index"):
        written(tmp_path / name, b"")
    with raises_at("weightbridge._readers", "_load_tensorflow", ValueError) as error:
        load_lazy(tmp_path)
    assert str(error.value) == f"{tmp_path}: no single TensorFlow checkpoint in this folder"


def test_a_tensorflow_index_that_tensorflow_cannot_read_quotes_tensorflow(tmp_path, tf):
    path = written(tmp_path / "ckpt.index", b"junk")
    with raises_at("weightbridge._readers", "_load_tensorflow", ValueError) as error:
        load_lazy(path)
    assert str(error.value) == f"{path}: not a readable TensorFlow checkpoint ({error_of(tf.train.load_checkpoint, str(tmp_path / 'ckpt'))})"


def test_a_tensorflow_checkpoint_of_bookkeeping_only_holds_no_weights(tmp_path, tf):
    prefix = tf.train.Checkpoint().write(str(tmp_path / "ckpt"))
    with raises_at("weightbridge._readers", "_load_tensorflow", ValueError) as error:
        load_lazy(prefix)
    assert str(error.value) == f"{prefix}: TensorFlow checkpoint holds no weights"


def test_tensorflow_data_that_fails_its_checksum_names_the_variable(tmp_path, tf):
    prefix = tf.train.Checkpoint(kernel=tf.Variable(np.ones((2, 2), np.float32))).write(str(tmp_path / "ckpt"))
    tensors = load_lazy(prefix)
    (data,) = tmp_path.glob("ckpt.data-*")
    data.write_bytes(bytes(data.stat().st_size))
    name = "kernel/.ATTRIBUTES/VARIABLE_VALUE"
    with raises_at("weightbridge._readers", "_read_tensorflow", ValueError) as error:
        np.asarray(tensors["kernel"])
    expected = error_of(tf.train.load_checkpoint(prefix).get_tensor, name)
    assert str(error.value) == f"{prefix}[{name}]: cannot read data ({expected})"
