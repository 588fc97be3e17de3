import json
import subprocess
import sys
import types

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from weightbridge._cli import main
from weightbridge._readers import TensorSignature, load_lazy, save_signature

BF16 = np.dtype(ml_dtypes.bfloat16)


def run(argv) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


@pytest.fixture
def model_pair(tmp_path):
    """Their checkpoint in one naming convention, my signature in another, same weights."""
    rng = np.random.default_rng(0)
    their = {
        "model.embed_tokens.weight": rng.normal(size=(20, 8)).astype(BF16),
        "model.layers.0.self_attn.q_proj.weight": rng.normal(size=(8, 8)).astype(BF16),
        "model.layers.0.self_attn.k_proj.weight": rng.normal(size=(8, 8)).astype(BF16),
        "model.layers.0.mlp.up_proj.weight": rng.normal(size=(12, 8)).astype(BF16),
    }
    save_file(their, tmp_path / "their.safetensors")
    my_names = {
        "tok_embeddings.weight": "model.embed_tokens.weight",
        "layers.0.attention.left.weight": "model.layers.0.self_attn.q_proj.weight",
        "layers.0.attention.right.weight": "model.layers.0.self_attn.k_proj.weight",
        "layers.0.feed_forward.w3.weight": "model.layers.0.mlp.up_proj.weight",
    }
    save_signature({my: TensorSignature(their[t].shape, BF16) for my, t in my_names.items()},
                   tmp_path / "my.json")
    return {my: their[t] for my, t in my_names.items()}


def test_signature_lists_tensors_in_file_order(tmp_path, capsys):
    save_file({"b": np.zeros((2, 3), BF16), "a": np.zeros(4, np.int32)}, tmp_path / "m.safetensors")

    assert run(["signature", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "m.json")]) == 0
    assert run(["signature", str(tmp_path / "m.safetensors")]) == 0

    expected = (
        '{"format": "weightbridge-signature", "version": 1, "tensors": [\n'
        '  {"name": "a", "shape": [4], "dtype": "int32"},\n'
        '  {"name": "b", "shape": [2, 3], "dtype": "bfloat16"}\n'
        "]}\n"
    )
    assert (tmp_path / "m.json").read_text() == expected
    assert capsys.readouterr().out == expected


def test_convert_writes_shards_and_prints_them(tmp_path, model_pair, capsys):
    out = tmp_path / "converted"
    code = run(["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
                "-o", str(out), "--max-shard-size", "300B", "--quiet",
                "--hint", "left", "q_proj"])

    assert code == 0
    # 320-byte embedding, then 128 + 128 bytes, then 192 bytes.
    shards = [out / f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    index = out / "model.safetensors.index.json"
    assert capsys.readouterr().out.splitlines() == [str(p) for p in shards + [index]]
    assert json.loads(index.read_text())["weight_map"] == {
        "layers.0.attention.right.weight": shards[1].name,
        "layers.0.attention.left.weight": shards[1].name,
        "layers.0.feed_forward.w3.weight": shards[2].name,
        "tok_embeddings.weight": shards[0].name,
    }
    converted = load_lazy(out)
    assert sorted(converted) == sorted(model_pair)
    for name, array in model_pair.items():
        assert np.asarray(converted[name]).tobytes() == array.tobytes(), name


def test_convert_error_names_the_file_and_exits_with_1(tmp_path, model_pair, capsys):
    code = run(["convert", str(tmp_path / "their.safetensors"), "--like",
                str(tmp_path / "missing.json"), "-o", str(tmp_path / "out")])

    assert code == 1
    assert capsys.readouterr().err == (
        f"weightbridge convert: error: {tmp_path / 'missing.json'}: no such file or folder\n"
    )
    assert not (tmp_path / "out").exists()


def test_ambiguity_is_reported_with_the_settling_hint(tmp_path, model_pair, capsys):
    code = run(["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
                "-o", str(tmp_path / "out")])

    assert code == 1
    error = capsys.readouterr().err
    assert "layers.0.attention.left.weight" in error
    assert "model.layers.0.self_attn.q_proj.weight" in error
    assert error.splitlines()[-1].startswith("On the command line: --hint ")
    assert not (tmp_path / "out").exists()


def test_hint_that_matches_nothing_is_reported(tmp_path, model_pair, capsys):
    code = run(["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
                "-o", str(tmp_path / "out"), "--hint", "nowhere", "q_proj"])

    assert code == 1
    assert "no weight of `my` contains 'nowhere'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_malformed_command_line_exits_with_2(capsys):
    assert run(["convert", "their.safetensors"]) == 2
    assert "the following arguments are required: --like, -o/--output" in capsys.readouterr().err


def test_demo_runs_the_demo_and_returns_its_code(monkeypatch):
    import weightbridge

    demo = types.ModuleType("weightbridge._demo")
    demo.run = lambda: 3
    monkeypatch.setitem(sys.modules, "weightbridge._demo", demo)
    monkeypatch.setattr(weightbridge, "_demo", demo, raising=False)

    assert run(["demo"]) == 3


def test_module_entry_point_runs_the_command_line(tmp_path):
    save_file({"w": np.zeros(2, np.float16)}, tmp_path / "m.safetensors")

    result = subprocess.run([sys.executable, "-m", "weightbridge", "signature",
                             str(tmp_path / "m.safetensors")], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tensors"] == [{"name": "w", "shape": [2], "dtype": "float16"}]
