import json
import os
import struct
import warnings
import zipfile

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from weightbridge._readers import (
    LazyTensor,
    TensorSignature,
    load_lazy,
    save_signature,
    signature,
)


def exotic_tensors() -> dict[str, np.ndarray]:
    """Tensors whose bytes must survive unchanged, including the dtypes numpy lacks."""
    return {
        "embed.weight": np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5,
        "layers.0.attn.weight": np.array([[1.5, -2.25], [3e-3, 65504]], ml_dtypes.bfloat16),
        "layers.0.mlp.weight": np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn)
        .reshape(16, 16),
        "layers.0.mlp.scale": np.arange(7, dtype=np.uint8).view(ml_dtypes.float8_e5m2),
        "position": np.array(3, dtype=np.int64),
        "mask": np.array([True, False, True]),
    }


def signature_rows(tensors) -> list[tuple[str, tuple[int, ...], str]]:
    return [(name, t.shape, t.dtype.name) for name, t in tensors.items()]


def header_order(path) -> list[str]:
    content = path.read_bytes()
    (header_size,) = struct.unpack("<Q", content[:8])
    return [name for name in json.loads(content[8 : 8 + header_size]) if name != "__metadata__"]


def assert_bit_exact(lazy: dict, expected: dict[str, np.ndarray]) -> None:
    assert list(lazy) == list(expected)
    for name, array in expected.items():
        loaded = np.asarray(lazy[name])
        assert loaded.dtype == array.dtype, name
        assert loaded.shape == array.shape, name
        assert loaded.tobytes() == array.tobytes(), name


def test_safetensors_round_trip_is_bit_exact(tmp_path):
    tensors = exotic_tensors()
    save_file(tensors, tmp_path / "model.safetensors")

    lazy = load_lazy(tmp_path / "model.safetensors")

    order = header_order(tmp_path / "model.safetensors")
    assert_bit_exact(lazy, {name: tensors[name] for name in order})
    assert all(isinstance(t, LazyTensor) for t in lazy.values())
    assert lazy["layers.0.attn.weight"].dtype == np.dtype(ml_dtypes.bfloat16)
    assert lazy["layers.0.mlp.weight"].dtype == np.dtype(ml_dtypes.float8_e4m3fn)


def test_safetensors_signature_does_not_read_the_data_region(tmp_path, monkeypatch):
    import weightbridge._readers

    tensors = {"a": np.ones((4, 4), np.float32), "b": np.ones((1000,), ml_dtypes.bfloat16)}
    path = tmp_path / "model.safetensors"
    save_file(tensors, path)
    read = weightbridge._readers._read_region

    def refuse(*args):
        raise AssertionError("tensor data was read")

    monkeypatch.setattr(weightbridge._readers, "_read_region", refuse)
    assert signature_rows(load_lazy(path)) == [("a", (4, 4), "float32"), ("b", (1000,), "bfloat16")]

    monkeypatch.setattr(weightbridge._readers, "_read_region", read)
    assert np.asarray(load_lazy(path)["b"]).tobytes() == tensors["b"].tobytes()


def test_truncated_safetensors_is_refused_when_opened(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"a": np.ones((4, 4), np.float32), "b": np.ones((1000,), ml_dtypes.bfloat16)}, path)
    (header_size,) = struct.unpack("<Q", path.read_bytes()[:8])
    os.truncate(path, 8 + header_size + 4 * 4 * 4)

    with pytest.raises(ValueError) as error:
        load_lazy(path)
    assert str(error.value) == (f"{path}: file is truncated (the header needs {8 + header_size + 64 + 2000} "
                                f"bytes, the file has {8 + header_size + 64})")


def test_sharded_safetensors_are_read_through_their_index(tmp_path):
    tensors = exotic_tensors()
    names = list(tensors)
    save_file({n: tensors[n] for n in names[:3]}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({n: tensors[n] for n in names[3:]}, tmp_path / "model-00002-of-00002.safetensors")
    weight_map = {n: f"model-0000{1 + (i >= 3)}-of-00002.safetensors" for i, n in enumerate(names)}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))

    from_index = load_lazy(tmp_path / "model.safetensors.index.json")
    from_folder = load_lazy(tmp_path)

    assert sorted(from_index) == sorted(names)
    assert signature_rows(from_folder) == signature_rows(from_index)
    for name in names:
        assert np.asarray(from_index[name]).tobytes() == tensors[name].tobytes()
        assert from_index[name].location.endswith(f"{weight_map[name]}[{name}]")


def test_index_naming_a_tensor_missing_from_its_shard_is_an_error(tmp_path):
    save_file({"a": np.zeros(2, np.float32)}, tmp_path / "shard.safetensors")
    index = {"weight_map": {"a": "shard.safetensors", "lost.weight": "shard.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))

    with pytest.raises(ValueError, match=r"'lost\.weight' is not in its shard shard\.safetensors"):
        load_lazy(tmp_path / "model.safetensors.index.json")


def test_torch_file_is_flattened_with_dotted_names_and_bit_exact(tmp_path):
    tensors = exotic_tensors()
    torch_tensors = {
        name: torch.from_numpy(array.view(np.uint8 if array.dtype.itemsize == 1 else np.int16))
        .view(getattr(torch, array.dtype.name)) if array.dtype.type.__module__ == "ml_dtypes"
        else torch.from_numpy(array)
        for name, array in tensors.items()
    }
    checkpoint = {"model": torch_tensors, "epoch": 7, "extra": [torch.zeros(2), "note"]}
    torch.save(checkpoint, tmp_path / "checkpoint.pt")

    lazy = load_lazy(tmp_path / "checkpoint.pt")

    expected = {f"model.{name}": array for name, array in tensors.items()}
    expected["extra.0"] = np.zeros(2, np.float32)
    assert_bit_exact(lazy, expected)
    assert load_lazy(tmp_path).keys() == lazy.keys()


def test_legacy_torch_file_is_read_whole_with_a_warning(tmp_path):
    path = tmp_path / "old.bin"
    torch.save({"w": torch.arange(3.0)}, path, _use_new_zipfile_serialization=False)

    with pytest.warns(UserWarning, match="legacy torch format"):
        lazy = load_lazy(path)

    assert np.asarray(lazy["w"]).tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_members_are_read_from_their_headers(tmp_path, save):
    tensors = {"dense/kernel": np.arange(6.0).reshape(2, 3).T,
               "dense/bias": np.arange(3, dtype=np.int16), "half": np.ones((2, 2), np.float16)}
    save(tmp_path / "weights.npz", **tensors)

    lazy = load_lazy(tmp_path / "weights.npz")

    assert signature_rows(lazy) == [("dense/kernel", (3, 2), "float64"),
                                    ("dense/bias", (3,), "int16"), ("half", (2, 2), "float16")]
    for name, array in tensors.items():
        np.testing.assert_array_equal(np.asarray(lazy[name]), array)


def test_npz_signature_survives_corrupt_data(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, small=np.zeros(2, np.float32), big=np.zeros(1000, np.float32))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("big.npy")
    content = bytearray(path.read_bytes())
    # The stored member's data sits near its end; flipping bytes there breaks the CRC only.
    data_end = info.header_offset + 30 + len(info.filename) + info.compress_size
    content[data_end - 100 : data_end - 90] = b"\xff" * 10
    path.write_bytes(bytes(content))

    lazy = load_lazy(path)

    assert signature_rows(lazy) == [("small", (2,), "float32"), ("big", (1000,), "float32")]
    assert np.asarray(lazy["small"]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"weights\.npz\[big\]: cannot read data"):
        np.asarray(lazy["big"])


def test_npz_with_python_objects_is_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", ok=np.zeros(2), bad=np.array([{"a": 1}], dtype=object))

    with pytest.raises(ValueError, match=r"objects\.npz\[bad\]: holds Python objects"):
        load_lazy(tmp_path / "objects.npz")


def test_signature_file_gives_shape_only_leaves(tmp_path):
    tensors = exotic_tensors()
    path = tmp_path / "my.json"

    save_signature(tensors, path)
    leaves = load_lazy(path)

    assert json.loads(path.read_text()) == {
        "format": "weightbridge-signature",
        "version": 1,
        "tensors": [
            {"name": "embed.weight", "shape": [3, 4], "dtype": "float32"},
            {"name": "layers.0.attn.weight", "shape": [2, 2], "dtype": "bfloat16"},
            {"name": "layers.0.mlp.weight", "shape": [16, 16], "dtype": "float8_e4m3fn"},
            {"name": "layers.0.mlp.scale", "shape": [7], "dtype": "float8_e5m2"},
            {"name": "position", "shape": [], "dtype": "int64"},
            {"name": "mask", "shape": [3], "dtype": "bool"},
        ],
    }
    assert leaves == {name: TensorSignature(a.shape, a.dtype) for name, a in tensors.items()}
    assert not hasattr(leaves["embed.weight"], "__array__")


def test_signature_of_torch_tensors_names_numpy_dtypes():
    tensors = {"w": torch.zeros(2, 3, dtype=torch.bfloat16), "b": torch.zeros(3)}

    assert signature(tensors)["tensors"] == [
        {"name": "w", "shape": [2, 3], "dtype": "bfloat16"},
        {"name": "b", "shape": [3], "dtype": "float32"},
    ]


def test_signature_with_unknown_dtype_names_the_tensor(tmp_path):
    content = {"format": "weightbridge-signature", "version": 1,
               "tensors": [{"name": "odd.weight", "shape": [2], "dtype": "float7"}]}
    (tmp_path / "my.json").write_text(json.dumps(content))

    with pytest.raises(ValueError, match=r"my\.json: tensor 'odd\.weight' has unknown dtype"):
        load_lazy(tmp_path / "my.json")


def test_unsupported_safetensors_dtype_names_the_tensor(tmp_path):
    header = json.dumps({"packed": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}).encode()
    (tmp_path / "fp4.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0")

    with pytest.raises(ValueError, match=r"fp4\.safetensors: tensor 'packed' has dtype F4"):
        load_lazy(tmp_path / "fp4.safetensors")


@pytest.mark.parametrize(
    "file_name, content, message",
    [
        ("model.safetensors", b"\x05", r"model\.safetensors: not a safetensors file"),
        ("model.safetensors", struct.pack("<Q", 10**9) + b"{}", r"header length 1000000000"),
        ("model.safetensors", struct.pack("<Q", 4) + b"{{{{", r"header is not JSON"),
        ("weights.npz", b"not a zip", r"weights\.npz: not a valid \.npz archive"),
        ("model.pt", b"not a pickle", r"model\.pt: cannot be read by torch\.load"),
        ("model.onnx", b"\x08\x07", r"model\.onnx: unknown checkpoint kind"),
        ("config.json", b'{"hidden_size": 8}', r"config\.json: neither a checkpoint index"),
    ],
)
def test_broken_or_unknown_files_are_named_in_the_error(tmp_path, file_name, content, message):
    (tmp_path / file_name).write_bytes(content)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            load_lazy(tmp_path / file_name)


def test_missing_path_and_empty_folder_are_errors(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\.safetensors: no such file"):
        load_lazy(tmp_path / "nothing.safetensors")
    with pytest.raises(ValueError, match="no checkpoint found"):
        load_lazy(tmp_path)


def test_folder_with_several_safetensors_and_no_index_is_ambiguous(tmp_path):
    save_file({"a": np.zeros(1)}, tmp_path / "a.safetensors")
    save_file({"b": np.zeros(1)}, tmp_path / "b.safetensors")

    with pytest.raises(ValueError, match=r"several candidates \(a\.safetensors, b\.safetensors\)"):
        load_lazy(tmp_path)


def test_tensorflow_checkpoint_skips_bookkeeping(tmp_path):
    tf = pytest.importorskip("tensorflow")
    model = tf.Module()
    model.dense = tf.Module()
    model.dense.kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    model.dense.bias = tf.Variable(np.array([1.5, -2, 3], ml_dtypes.bfloat16))
    prefix = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))

    for path in (prefix, f"{prefix}.index", tmp_path):
        lazy = load_lazy(path)
        assert signature_rows(lazy) == [
            ("model/dense/bias", (3,), "bfloat16"),
            ("model/dense/kernel", (2, 3), "float32"),
        ]
    bias = np.asarray(lazy["model/dense/bias"])
    assert bias.tobytes() == np.array([1.5, -2, 3], ml_dtypes.bfloat16).tobytes()


@pytest.mark.parametrize("shape, entry", [([8, 3.5, 3, 3], "entry 1 (3.5)"), ([8, -3, 3, 3], "entry 1 (-3)"),
                                          ([8, "3"], 'entry 1 ("3")'), ([True, 3], "entry 0 (true)")])
def test_signature_shape_entries_must_be_non_negative_integers(tmp_path, shape, entry):
    path = tmp_path / "my.json"
    path.write_text(json.dumps({"format": "weightbridge-signature", "version": 1,
                                "tensors": [{"name": "conv.weight", "shape": shape, "dtype": "float32"}]}))
    with pytest.raises(ValueError) as error:
        load_lazy(path)
    assert str(error.value) == (f"{path}: tensor 'conv.weight' has shape {json.dumps(shape)}: {entry} "
                                "is not a non-negative integer")


def test_empty_torch_file_says_it_is_empty(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(ValueError) as error:
        load_lazy(tmp_path / "model.pt")
    assert str(error.value) == f"{tmp_path / 'model.pt'}: the file is empty (0 bytes)"


def test_signature_of_a_live_model_keeps_the_definition_order(tmp_path):
    import jax
    import flax.linen as nn
    import weightbridge

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    text = weightbridge.signature(model.state_dict(), tmp_path / "my.json")
    assert text == (
        '{"format": "weightbridge-signature", "version": 1, "tensors": [\n'
        '  {"name": "0.weight", "shape": [4, 3], "dtype": "float32"},\n'
        '  {"name": "0.bias", "shape": [4], "dtype": "float32"},\n'
        '  {"name": "1.weight", "shape": [4], "dtype": "float32"},\n'
        '  {"name": "1.bias", "shape": [4], "dtype": "float32"}\n'
        "]}\n")
    assert (tmp_path / "my.json").read_text() == text
    assert list(load_lazy(tmp_path / "my.json")) == ["0.weight", "0.bias", "1.weight", "1.bias"]

    params = nn.Dense(4).init(jax.random.PRNGKey(0), np.zeros((1, 3)))
    assert [entry["name"] for entry in json.loads(weightbridge.signature(params))["tensors"]] == [
        "params/kernel", "params/bias"]
