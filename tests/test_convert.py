import json
import struct

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from weightbridge._convert import convert, parse_size, write_safetensors
from weightbridge._readers import TensorSignature, load_lazy, save_signature

BF16 = np.dtype(ml_dtypes.bfloat16)


def read_header(path) -> dict:
    content = path.read_bytes()
    (size,) = struct.unpack("<Q", content[:8])
    return json.loads(content[8 : 8 + size])


def mixed_tensors() -> dict[str, np.ndarray]:
    """Output tensors in the target's order, of mixed widths so alignment matters."""
    return {
        "norm.scale": np.array([1.5, -0.25, 3.0], BF16),
        "proj.weight": np.arange(8, dtype=np.float32).reshape(2, 4),
        "quant.weight": np.arange(5, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn),
        "proj.bias": np.array([7, -7], np.int64),
    }


def torch_bytes(path, name) -> bytes:
    with safe_open(str(path), "pt") as file:
        tensor = file.get_tensor(name)
    return tensor.view(torch.uint8).numpy().tobytes()


def test_single_file_header_is_aligned_and_exact(tmp_path):
    tensors = mixed_tensors()

    written = write_safetensors(tensors.items(), tensors, tmp_path / "out.safetensors")

    assert written == [tmp_path / "out.safetensors"]
    # Widest elements first so every tensor is aligned; ties keep the target's order.
    assert read_header(tmp_path / "out.safetensors") == {
        "__metadata__": {"format": "pt"},
        "norm.scale": {"dtype": "BF16", "shape": [3], "data_offsets": [48, 54]},
        "proj.weight": {"dtype": "F32", "shape": [2, 4], "data_offsets": [16, 48]},
        "quant.weight": {"dtype": "F8_E4M3", "shape": [5], "data_offsets": [54, 59]},
        "proj.bias": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
    }
    (header_size,) = struct.unpack("<Q", (tmp_path / "out.safetensors").read_bytes()[:8])
    assert header_size % 8 == 0
    for name, array in tensors.items():
        assert torch_bytes(tmp_path / "out.safetensors", name) == array.tobytes(), name


def test_tensors_may_arrive_as_torch_jax_or_lazy(tmp_path):
    import jax.numpy as jnp

    tensors = mixed_tensors()
    save_file(tensors, tmp_path / "source.safetensors")
    lazy = load_lazy(tmp_path / "source.safetensors")
    produced = [
        ("norm.scale", torch.tensor([1.5, -0.25, 3.0], dtype=torch.bfloat16)),
        ("proj.weight", jnp.arange(8, dtype=jnp.float32).reshape(2, 4)),
        ("quant.weight", lazy["quant.weight"]),
        ("proj.bias", tensors["proj.bias"]),
    ]

    write_safetensors(produced, tensors, tmp_path / "out.safetensors")

    assert_same_tensors(load_lazy(tmp_path / "out.safetensors"), tensors)


def test_strided_tensors_are_written_in_c_order_slab_by_slab(tmp_path, monkeypatch):
    import weightbridge._convert

    monkeypatch.setattr(weightbridge._convert, "_CHUNK_BYTES", 16)
    monkeypatch.setattr(weightbridge._convert, "_TILE", 2)
    kernel = np.arange(35, dtype=np.float32).reshape(5, 7)
    conv = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5).astype(ml_dtypes.bfloat16)
    scales = np.arange(20, dtype=np.uint8).view(ml_dtypes.float8_e5m2)[::2]
    tensors = {"kernel": kernel.T, "conv": conv.transpose(2, 3, 1, 0), "scales": scales}

    write_safetensors(tensors.items(), tensors, tmp_path / "out.safetensors")

    expected = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    assert_same_tensors(load_lazy(tmp_path / "out.safetensors"), expected)


def assert_same_tensors(lazy, expected):
    assert sorted(lazy) == sorted(expected)
    for name, array in expected.items():
        loaded = np.asarray(lazy[name])
        assert (loaded.dtype, loaded.shape) == (array.dtype, array.shape), name
        assert loaded.tobytes() == array.tobytes(), name


def test_large_output_is_sharded_like_transformers(tmp_path):
    tensors = {f"layers.{i}.weight": np.full((4, 4), i, np.float32) for i in range(5)}
    tensors["huge"] = np.zeros(100, np.float32)
    tensors["tail"] = np.ones(2, BF16)

    written = write_safetensors(tensors.items(), tensors, tmp_path / "out", max_shard_size=140)

    # 64-byte tensors: two fit under 140; the 400-byte tensor gets its own shard.
    names = [f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)]
    assert written == [tmp_path / "out" / n for n in names + ["model.safetensors.index.json"]]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)
    assert (tmp_path / "out" / "model.safetensors.index.json").read_text() == json.dumps(
        {
            "metadata": {"total_size": 5 * 64 + 400 + 4},
            "weight_map": {
                "huge": names[3],
                "layers.0.weight": names[0],
                "layers.1.weight": names[0],
                "layers.2.weight": names[1],
                "layers.3.weight": names[1],
                "layers.4.weight": names[2],
                "tail": names[4],
            },
        },
        indent=2,
    ) + "\n"
    assert list(read_header(tmp_path / "out" / names[2])) == ["__metadata__", "layers.4.weight"]
    assert_same_tensors(load_lazy(tmp_path / "out"), tensors)


def test_sharded_output_named_as_a_file_uses_its_stem(tmp_path):
    tensors = {"a": np.zeros(4, np.float32), "b": np.ones(4, np.float32)}

    written = write_safetensors(tensors.items(), tensors, tmp_path / "weights.safetensors",
                                max_shard_size="16B")

    assert [p.name for p in written] == ["weights-00001-of-00002.safetensors",
                                         "weights-00002-of-00002.safetensors",
                                         "weights.safetensors.index.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def failing_after_first(tensors):
    for position, item in enumerate(tensors.items()):
        if position == 1:
            raise RuntimeError("disk on fire")
        yield item


@pytest.mark.parametrize("out_name", ["new_folder", "out.safetensors"])
@pytest.mark.parametrize("max_shard_size", [10**9, 64])
def test_interrupted_conversion_leaves_no_output(tmp_path, out_name, max_shard_size):
    tensors = {f"layers.{i}.weight": np.full((4, 4), i, np.float32) for i in range(3)}

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_safetensors(failing_after_first(tensors), tensors, tmp_path / out_name,
                          max_shard_size=max_shard_size)

    assert list(tmp_path.iterdir()) == []


def test_interrupted_conversion_into_an_existing_folder_keeps_its_files(tmp_path):
    tensors = {f"layers.{i}.weight": np.full((4, 4), i, np.float32) for i in range(3)}
    (tmp_path / "model.safetensors").write_bytes(b"previous")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_safetensors(failing_after_first(tensors), tensors, tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    assert (tmp_path / "model.safetensors").read_bytes() == b"previous"


@pytest.mark.parametrize(
    "produced, message",
    [
        ([("a", np.zeros(2, np.float32))], r"no tensor was produced for 'b'"),
        ([("a", np.zeros(2, np.float32)), ("a", np.zeros(2, np.float32))],
         r"tensor 'a' is written twice"),
        ([("c", np.zeros(2, np.float32))], r"tensor 'c' is not in the target"),
        ([("a", np.zeros(3, np.float32))], r"tensor 'a' is float32\[3\], the target wants float32\[2\]"),
        ([("a", np.zeros(2, BF16))], r"tensor 'a' is bfloat16\[2\], the target wants float32\[2\]"),
    ],
)
def test_wrong_tensors_are_named_and_leave_no_output(tmp_path, produced, message):
    like = {"a": TensorSignature((2,), np.float32), "b": TensorSignature((2,), np.float32)}

    with pytest.raises(ValueError, match=message):
        write_safetensors(produced, like, tmp_path / "out.safetensors")

    assert list(tmp_path.iterdir()) == []


def test_dtype_safetensors_cannot_store_is_named():
    like = {"odd": TensorSignature((2,), ml_dtypes.float8_e4m3b11fnuz)}

    with pytest.raises(ValueError, match=r"tensor 'odd': safetensors cannot store dtype"):
        write_safetensors([], like, "unused.safetensors")


def test_sizes_count_like_transformers():
    assert parse_size("5GB") == 5 * 10**9
    assert parse_size("500MB") == 500 * 10**6
    assert parse_size("2GiB") == 2 * 2**30
    assert parse_size("1.5kb") == 1500
    assert parse_size("64") == 64
    assert parse_size(123) == 123
    with pytest.raises(ValueError, match="size '5 parsecs' is not understood"):
        parse_size("5 parsecs")


def llama_like_pair(tmp_path, dtype=BF16):
    """A tiny transformer in Hugging Face names and the same model in Meta's names."""
    rng = np.random.default_rng(0)
    width, hidden, vocab = 8, 12, 20
    their = {"model.embed_tokens.weight": rng.normal(size=(vocab, width))}
    my = {"tok_embeddings.weight": (vocab, width)}
    for i in range(2):
        their[f"model.layers.{i}.input_layernorm.weight"] = rng.normal(size=(width,))
        their[f"model.layers.{i}.mlp.up_proj.weight"] = rng.normal(size=(hidden, width))
        my[f"layers.{i}.attention_norm.weight"] = (width,)
        my[f"layers.{i}.feed_forward.w3.weight"] = (hidden, width)
    their = {name: array.astype(dtype) for name, array in their.items()}
    save_file(their, tmp_path / "their.safetensors")
    save_signature({name: TensorSignature(shape, dtype) for name, shape in my.items()},
                   tmp_path / "my.json")
    expected = {"tok_embeddings.weight": their["model.embed_tokens.weight"]}
    for i in range(2):
        expected[f"layers.{i}.attention_norm.weight"] = their[f"model.layers.{i}.input_layernorm.weight"]
        expected[f"layers.{i}.feed_forward.w3.weight"] = their[f"model.layers.{i}.mlp.up_proj.weight"]
    return expected


def test_convert_renames_bfloat16_weights_bit_exactly(tmp_path):
    expected = llama_like_pair(tmp_path)

    written = convert(tmp_path / "their.safetensors", tmp_path / "my.json", tmp_path / "out")

    assert written == [tmp_path / "out" / "model.safetensors"]
    converted = load_lazy(tmp_path / "out")
    assert list(converted) == list(expected)
    assert_same_tensors(converted, expected)


def test_convert_takes_the_target_from_a_checkpoint_and_transposes_for_flax(tmp_path):
    rng = np.random.default_rng(1)
    their = {"encoder.fc.weight": rng.normal(size=(3, 5)).astype(np.float32),
             "encoder.fc.bias": rng.normal(size=(3,)).astype(np.float32)}
    torch.save({name: torch.from_numpy(array) for name, array in their.items()},
               tmp_path / "their.pt")
    np.savez(tmp_path / "my.npz", **{"encoder/Dense_0/kernel": np.zeros((5, 3), np.float32),
                                     "encoder/Dense_0/bias": np.zeros(3, np.float32)})

    convert(tmp_path / "their.pt", tmp_path / "my.npz", tmp_path / "out.safetensors",
            in_format="pytorch", out_format="flax")

    assert_same_tensors(load_lazy(tmp_path / "out.safetensors"), {
        "encoder/Dense_0/kernel": their["encoder.fc.weight"].T,
        "encoder/Dense_0/bias": their["encoder.fc.bias"],
    })


def test_convert_fails_before_matching_when_their_file_is_truncated(tmp_path):
    llama_like_pair(tmp_path)
    path = tmp_path / "their.safetensors"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 10])

    with pytest.raises(ValueError) as error:
        convert(path, tmp_path / "my.json", tmp_path / "out")

    assert str(error.value) == (f"{path}: file is truncated (the header needs {len(content)} bytes, "
                                f"the file has {len(content) - 10})")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.json", "their.safetensors"]
