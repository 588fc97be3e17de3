import json
import re
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
    # The proposal is written as the command line's option, not as Python.
    assert error.splitlines()[-2:] == [
        "Say which weights correspond with --hint MY_SUB THEIR_SUB; if the rows shown above are the right pairs:",
        "  --hint left k_proj",
    ]
    assert not (tmp_path / "out").exists()


def test_hint_that_matches_nothing_is_reported(tmp_path, model_pair, capsys):
    code = run(["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
                "-o", str(tmp_path / "out"), "--hint", "nowhere", "q_proj"])

    assert code == 1
    assert "no weight of MY contains 'nowhere'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_malformed_command_line_exits_with_2(capsys):
    assert run(["convert", "their.safetensors"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "weightbridge convert: error: the following arguments are required: -o/--output")
    assert run(["convert", "their.safetensors", "-o", "out"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "weightbridge convert: error: one of the arguments --like --mapping is required")


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


HINT = ["--hint", "left", "q_proj"]


def convert_args(tmp_path, out, *extra):
    return ["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
            "-o", str(out), *HINT, *extra]


@pytest.fixture
def no_matching(monkeypatch):
    """Fails the test if anything is matched: the checks under test come before matching."""
    import weightbridge._match

    def refuse(*args, **kwargs):
        raise AssertionError("matched, but the error should come before matching")

    monkeypatch.setattr(weightbridge._match, "match", refuse)


def test_version_is_printed(capsys):
    import weightbridge

    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"weightbridge {weightbridge.__version__}\n"


@pytest.mark.parametrize("name, message", [
    ("out.txt", "{out}: unknown output kind '.txt'; name a .safetensors, .pt, .bin, .npz or .msgpack "
                "file, or a folder (sharded safetensors)"),
    ("missing/out.safetensors", "{parent}: output folder does not exist"),
])
def test_bad_output_is_refused_before_matching(tmp_path, model_pair, no_matching, capsys, name, message):
    out = tmp_path / name
    assert run(convert_args(tmp_path, out)) == 1
    expected = message.format(out=out, parent=out.parent)
    assert capsys.readouterr().err == f"weightbridge convert: error: {expected}\n"


def test_unwritable_output_folder_is_refused_before_matching(model_pair, tmp_path, no_matching, capsys):
    # sysfs refuses new files even to root, which permission bits would not stop.
    assert run(convert_args(tmp_path, "/sys/out.safetensors")) == 1
    assert capsys.readouterr().err == (
        "weightbridge convert: error: /sys: cannot write in this folder (Permission denied)\n")


def test_npz_output_refuses_bfloat16_before_matching(tmp_path, model_pair, no_matching, capsys):
    out = tmp_path / "out.npz"
    assert run(convert_args(tmp_path, out)) == 1
    assert capsys.readouterr().err == (
        f"weightbridge convert: error: {out}: a npz file cannot store dtype bfloat16; "
        "choose another output format\n")


def test_output_format_follows_the_extension(tmp_path, model_pair, capsys):
    import torch
    from flax import serialization

    for name in ("out.pt", "out.bin", "out.msgpack"):
        assert run(convert_args(tmp_path, tmp_path / name, "-q")) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / name) for name in ("out.pt", "out.bin", "out.msgpack")]

    for name in ("out.pt", "out.bin"):
        state = torch.load(tmp_path / name, weights_only=True)
        assert list(state) == list(model_pair)
        for key, array in model_pair.items():
            assert state[key].dtype == torch.bfloat16
            assert state[key].view(torch.int16).numpy().tobytes() == array.tobytes()
    nested = serialization.msgpack_restore((tmp_path / "out.msgpack").read_bytes())
    assert nested["layers"]["0"]["attention"]["left"]["weight"].tobytes() == (
        model_pair["layers.0.attention.left.weight"].tobytes())
    assert nested["tok_embeddings"]["weight"].dtype == BF16


def test_npz_output_holds_every_tensor(tmp_path):
    their = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "b.bias": np.arange(4, dtype=np.int32)}
    save_file(their, tmp_path / "their.safetensors")
    save_signature({"x.weight": TensorSignature((2, 3), np.float32), "y.bias": TensorSignature((4,), np.int32)},
                   tmp_path / "my.json")

    assert run(["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json"),
                "-o", str(tmp_path / "out.npz")]) == 0

    with np.load(tmp_path / "out.npz") as archive:
        assert sorted(archive.files) == ["x.weight", "y.bias"]
        assert archive["x.weight"].tolist() == their["a.weight"].tolist()
        assert archive["y.bias"].tolist() == [0, 1, 2, 3]


def test_interrupt_exits_130_and_writes_nothing(tmp_path, model_pair, monkeypatch, capsys):
    import weightbridge._convert

    def interrupted(file, array):
        raise KeyboardInterrupt

    monkeypatch.setattr(weightbridge._convert, "_write_array", interrupted)

    assert run(convert_args(tmp_path, tmp_path / "out")) == 130
    assert capsys.readouterr().err == "weightbridge convert: interrupted, nothing written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.json", "their.safetensors"]


def test_os_error_is_one_line_without_traceback(tmp_path, model_pair, monkeypatch, capsys):
    import weightbridge._convert

    out = tmp_path / "out.safetensors"

    def refused(self):
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(weightbridge._convert._Staging, "commit", refused)

    assert run(convert_args(tmp_path, out)) == 1
    assert capsys.readouterr().err == f"weightbridge convert: error: {out}: Permission denied\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.json", "their.safetensors"]


def test_unmatched_inputs_are_named_in_the_command_line_spelling(tmp_path, model_pair, capsys):
    their = {name: np.asarray(t) for name, t in load_lazy(tmp_path / "their.safetensors").items()}
    their["lm_head.weight"] = np.zeros((3, 5), BF16)
    save_file(their, tmp_path / "their.safetensors")

    assert run(convert_args(tmp_path, tmp_path / "out")) == 1
    error = capsys.readouterr().err
    assert error.splitlines()[0] == (
        "weightbridge convert: error: 1 of 5 weights of THEIR have no partner in MY "
        "(pass --ignore-unmatched-inputs to allow this):")

    assert run(convert_args(tmp_path, tmp_path / "out", "--ignore-unmatched-inputs", "-q")) == 0
    assert sorted(load_lazy(tmp_path / "out")) == sorted(model_pair)


def test_unmatched_outputs_are_left_out_when_allowed(tmp_path, model_pair, capsys):
    signature = json.loads((tmp_path / "my.json").read_text())
    signature["tensors"].append({"name": "output.weight", "shape": [3, 5], "dtype": "bfloat16"})
    (tmp_path / "my.json").write_text(json.dumps(signature))

    assert run(convert_args(tmp_path, tmp_path / "out")) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "weightbridge convert: error: 1 of 5 weights of MY have no partner in THEIR "
        "(pass --ignore-unmatched-outputs to allow this):")

    assert run(convert_args(tmp_path, tmp_path / "out", "--ignore-unmatched-outputs")) == 0
    assert sorted(load_lazy(tmp_path / "out")) == sorted(model_pair)


def test_training_checkpoint_proposes_key_and_key_picks_the_model(tmp_path, model_pair, capsys):
    import torch

    state = {name: torch.from_numpy(np.asarray(t).view(np.int16)).view(torch.bfloat16)
             for name, t in load_lazy(tmp_path / "their.safetensors").items()}
    optimizer = {"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    torch.save({"epoch": 3, "model": state, "optimizer": optimizer}, tmp_path / "train.pt")
    args = ["convert", str(tmp_path / "train.pt"), "--like", str(tmp_path / "my.json"), *HINT]

    assert run(args + ["-o", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        "weightbridge convert: error: THEIR looks like a training checkpoint (top-level entries "
        "'model', 'optimizer'); pass --key model to take the weights under 'model'\n")

    assert run(args + ["-o", str(tmp_path / "out"), "--key", "model", "-q"]) == 0
    converted = load_lazy(tmp_path / "out")
    for name, array in model_pair.items():
        assert np.asarray(converted[name]).tobytes() == array.tobytes(), name

    assert run(args + ["-o", str(tmp_path / "out2"), "--key", "weights"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "weightbridge convert: error: THEIR has no entry 'weights'; its top-level entries are "
        "'model', 'optimizer'")


def test_lossy_cast_is_refused_unless_allowed(tmp_path, capsys):
    save_file({"w": np.array([1.0, 1e30, -2.5], BF16)}, tmp_path / "their.safetensors")
    save_signature({"w": TensorSignature((3,), np.float16)}, tmp_path / "my.json")
    args = ["convert", str(tmp_path / "their.safetensors"), "--like", str(tmp_path / "my.json")]

    assert run(args + ["-o", str(tmp_path / "out.safetensors")]) == 1
    assert capsys.readouterr().err == (
        "weightbridge convert: error: my 'w': casting bfloat16 to float16 changes its values "
        "(1 of 3; at [1]: 1.00026e+30 becomes inf); pass --allow-cast to allow this\n")
    assert not (tmp_path / "out.safetensors").exists()

    assert run(args + ["-o", str(tmp_path / "out.safetensors"), "--allow-cast"]) == 0
    assert np.asarray(load_lazy(tmp_path / "out.safetensors")["w"]).tolist() == [1.0, np.inf, -2.5]


def test_match_prints_the_table_smallest_margins_first(tmp_path, model_pair, capsys):
    assert run(["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), *HINT,
                "--smallest-first"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["my", "their", "transform", "margin"]
    margins = [row.split()[-1] for row in rows[1:]]
    assert sorted(margins, key=float) == margins
    assert {tuple(row.split()[:2]) for row in rows[1:]} == {
        ("tok_embeddings.weight", "model.embed_tokens.weight"),
        ("layers.0.attention.left.weight", "model.layers.0.self_attn.q_proj.weight"),
        ("layers.0.attention.right.weight", "model.layers.0.self_attn.k_proj.weight"),
        ("layers.0.feed_forward.w3.weight", "model.layers.0.mlp.up_proj.weight"),
    }


def test_match_explains_a_weight_and_refuses_an_unknown_one(tmp_path, model_pair, capsys):
    import weightbridge

    their, my = load_lazy(tmp_path / "their.safetensors"), load_lazy(tmp_path / "my.json")
    expected = weightbridge.match(their, my, hints=[("left", "q_proj")]).explain("layers.0.attention.left.weight")
    args = ["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), *HINT]

    assert run(args + ["--explain", "layers.0.attention.left.weight"]) == 0
    assert capsys.readouterr().out == expected + "\n"
    assert expected.splitlines()[0] == "layers.0.attention.left.weight <- model.layers.0.self_attn.q_proj.weight"

    assert run(args + ["--explain", "nothing"]) == 1
    assert capsys.readouterr().err == "weightbridge match: error: MY has no matched weight 'nothing'\n"


def test_match_table_and_explain_print_the_same_margin(tmp_path, capsys):
    """A post-norm layer in miniature, both sides sorted: the norms beside the fused biases are solved with
    CP-SAT, which stops at a margin of 1.0, the hinted ones by the assignment, which proves 3.0; both are lower
    bounds of the same swap and print alike."""
    import weightbridge

    their = [f"layer.attention.self.{p}.bias" for p in ("query", "key", "value")] + ["layer.attention.output.dense.bias"]
    their += [f"layer.{m}.LayerNorm.{k}" for m in ("attention.output", "output") for k in ("weight", "bias")]
    save_file({name: np.ones(4, np.float32) for name in their}, tmp_path / "their.safetensors")
    my = {"layer.norm1.bias": 4, "layer.norm1.weight": 4, "layer.norm2.bias": 4, "layer.norm2.weight": 4,
          "layer.self_attn.in_proj_bias": 12, "layer.self_attn.out_proj.bias": 4}
    save_signature({name: TensorSignature((size,), np.float32) for name, size in my.items()}, tmp_path / "my.json")
    hint = ("norm1", "attention.output.LayerNorm")
    mapping = weightbridge.match(load_lazy(tmp_path / "their.safetensors"), load_lazy(tmp_path / "my.json"), hints=[hint])
    assert [pair.margin for pair in mapping.pairs] == [3.0, 3.0, 1.0, 1.0, 1.0, 1.0]
    args = ["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), "--hint", *hint]

    assert run(args) == 0
    assert [re.split(r"\s{2,}", row) for row in capsys.readouterr().out.splitlines()] == [
        ["my", "their", "transform", "margin"],
        ["layer.norm1.bias", "layer.attention.output.LayerNorm.bias", "=", ">=1.000"],
        ["layer.norm1.weight", "layer.attention.output.LayerNorm.weight", "=", ">=1.000"],
        ["layer.norm2.bias", "layer.output.LayerNorm.bias", "=", ">=1.000"],
        ["layer.norm2.weight", "layer.output.LayerNorm.weight", "=", ">=1.000"],
        ["layer.self_attn.in_proj_bias", "layer.attention.self.query.bias + layer.attention.self.key.bias + "
         "layer.attention.self.value.bias", "a, b, c -> (a + b + c)", ">=1.000"],
        ["layer.self_attn.out_proj.bias", "layer.attention.output.dense.bias", "=", ">=1.000"],
    ]
    for name in ("layer.norm1.weight", "layer.norm2.weight"):
        assert run(args + ["--explain", name]) == 0
        assert capsys.readouterr().out.splitlines()[2] == f"  cost {mapping[name].cost:.3f}, margin >=1.000"


def test_saved_mapping_converts_without_matching(tmp_path, model_pair, monkeypatch, capsys):
    assert run(["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), *HINT,
                "--rules", "-o", str(tmp_path / "mapping.json")]) == 0
    assert capsys.readouterr().out == (
        "tok_embeddings.weight <- model.embed_tokens.weight\n"
        "layers.0.attention.left.weight <- model.layers.0.self_attn.q_proj.weight\n"
        "layers.0.attention.right.weight <- model.layers.0.self_attn.k_proj.weight\n"
        "layers.0.feed_forward.w3.weight <- model.layers.0.mlp.up_proj.weight\n")

    import weightbridge._match

    monkeypatch.setattr(weightbridge._match, "match", None)  # any call would fail
    assert run(["convert", str(tmp_path / "their.safetensors"), "--mapping", str(tmp_path / "mapping.json"),
                "-o", str(tmp_path / "out.safetensors")]) == 0
    converted = load_lazy(tmp_path / "out.safetensors")
    assert list(converted) == list(model_pair)
    for name, array in model_pair.items():
        assert np.asarray(converted[name]).tobytes() == array.tobytes(), name


def test_saved_mapping_refuses_another_checkpoint(tmp_path, model_pair, capsys):
    assert run(["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), *HINT,
                "-o", str(tmp_path / "mapping.json")]) == 0
    save_file({"model.embed_tokens.weight": np.zeros((20, 8), np.float32)}, tmp_path / "other.safetensors")

    assert run(["convert", str(tmp_path / "other.safetensors"), "--mapping", str(tmp_path / "mapping.json"),
                "-o", str(tmp_path / "out.safetensors")]) == 1
    assert capsys.readouterr().err == (
        "weightbridge convert: error: THEIR 'model.embed_tokens.weight' is float32[20, 8], "
        "the mapping was made for bfloat16[20, 8]\n")


def test_truncated_safetensors_fails_in_signature(tmp_path, capsys):
    save_file({"w": np.zeros((4, 4), np.float32)}, tmp_path / "m.safetensors")
    content = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "m.safetensors").write_bytes(content[:-1])

    assert run(["signature", str(tmp_path / "m.safetensors")]) == 1
    assert capsys.readouterr() == ("", (
        f"weightbridge signature: error: {tmp_path / 'm.safetensors'}: file is truncated "
        f"(the header needs {len(content)} bytes, the file has {len(content) - 1})\n"))


def test_progress_is_quiet_when_stderr_is_not_a_terminal(tmp_path, model_pair, capsys):
    assert run(convert_args(tmp_path, tmp_path / "out.safetensors")) == 0
    assert capsys.readouterr().err == ""


def test_library_messages_are_translated_into_the_command_line_options():
    from weightbridge._cli import in_cli_words

    assert in_cli_words("hint ('norm1', 'attention.output') is never needed: the mapping is the same") == (
        "--hint norm1 attention.output is never needed: the mapping is the same")
    assert in_cli_words('  hints=[("a b", "c"), ("d", "e")]') == "  --hint 'a b' c --hint d e"
    assert in_cli_words("axis order unknown; pass in_format='pytorch' or out_format='flax'") == (
        "axis order unknown; pass --their-format 'pytorch' or --my-format 'flax'")
    assert in_cli_words("1 of 3 weights of `my` have no partner (pass ignore_unmatched_outputs=True to allow this)") == (
        "1 of 3 weights of MY have no partner (pass --ignore-unmatched-outputs to allow this)")
