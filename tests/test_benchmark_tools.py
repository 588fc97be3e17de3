"""The benchmark's tool wrappers, the legacy runner and the sweep's perturbation, on tiny trees.

The weightbridge 0.0.4 tests install it from PyPI into `benchmarks/.work/legacy-venv` on first
use (or under `$WEIGHTBRIDGE_BENCH_WORK`), and reuse it after.
"""

import os
import subprocess
import sys
import types
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import weightbridge
from benchmarks.legacy import run_legacy, run_measured
from benchmarks.zoo import sweep
from benchmarks.results import write_atomically
from benchmarks.zoo import report
from benchmarks.zoo.tools import NotApplicable, ToolRefused, legacy_formats, make_tool


def seeded(*shape, seed):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def tiny_their():
    return OrderedDict(
        [
            ("features.0.weight", seeded(8, 3, 3, 3, seed=1)),
            ("features.0.bias", seeded(8, seed=2)),
            ("classifier.weight", seeded(10, 8, seed=3)),
            ("classifier.bias", seeded(10, seed=4)),
        ]
    )


# ---- name identity ----


def test_weightbridge_tool_follows_the_hints_its_errors_propose_and_drops_one_a_later_round_made_unneeded(monkeypatch):
    first, second = ("norm1", "layernorm_before"), ("attn", "attention")
    calls = []

    def adapt(their, my, hints):
        calls.append(list(hints))
        if not hints:
            raise weightbridge.AmbiguityError("norms tie", hints=[first])
        if hints == [first]:
            raise weightbridge.AmbiguityError("attention ties", hints=[second])
        if hints == [first, second]:
            raise weightbridge.HintError("never needed", hint=first, never_needed=True)
        return {"mapped": hints}

    monkeypatch.setattr(weightbridge, "adapt", adapt)
    tool = make_tool("weightbridge")
    assert tool({}, {}) == {"mapped": [second]}
    assert calls == [[], [first], [first, second], [second]]
    assert (tool.hints_needed, tool.zero_hint_error) == ([second], "AmbiguityError: norms tie")


def test_weightbridge_tool_keeps_a_hint_error_about_a_hint_it_was_given(monkeypatch):
    def adapt(their, my, hints):
        raise weightbridge.HintError("never needed", hint=tuple(hints[0]), never_needed=True)

    monkeypatch.setattr(weightbridge, "adapt", adapt)
    with pytest.raises(weightbridge.HintError):
        make_tool("weightbridge")({}, {}, hints=[("a", "b")])


def test_name_identity_copies_same_name_same_shape_and_keeps_the_rest():
    their = tiny_their()
    my = OrderedDict(
        [
            ("stem.weight", torch.zeros(8, 3, 3, 3)),
            ("features.0.bias", torch.zeros(8)),
            ("classifier.weight", torch.zeros(8, 10)),  # same name, other shape: kept
            ("classifier.bias", torch.zeros(10, dtype=torch.float64)),
            ("extra", torch.full((2,), 7.0)),
        ]
    )
    tool = make_tool("name-identity")
    result = tool(their, my)
    assert list(result) == list(my)
    assert torch.equal(result["stem.weight"], torch.zeros(8, 3, 3, 3))
    assert torch.equal(result["features.0.bias"], their["features.0.bias"])
    assert torch.equal(result["classifier.weight"], torch.zeros(8, 10))
    assert result["classifier.bias"].dtype == torch.float64
    assert torch.equal(result["classifier.bias"], their["classifier.bias"].double())
    assert torch.equal(result["extra"], torch.full((2,), 7.0))
    assert tool.hints_needed == []


def test_name_identity_joins_nested_keys_and_returns_my_array_type():
    their = {"dense": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}, "b": np.ones(3, np.float32)}
    my = {"dense": {"kernel": jnp.zeros((2, 3), jnp.bfloat16)}, "b": jnp.zeros((4,))}
    result = make_tool("name-identity")(their, my)
    assert result["dense"]["kernel"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(result["dense"]["kernel"], np.float32), their["dense"]["kernel"])
    np.testing.assert_array_equal(np.asarray(result["b"]), np.zeros(4))


# ---- timm's order-based remap ----


def test_timm_remap_pairs_by_order_and_reshapes_equal_element_counts():
    their = tiny_their()
    my = OrderedDict(
        [
            ("conv.weight", torch.zeros(8, 27)),
            ("conv.bias", torch.zeros(8)),
            ("fc.weight", torch.zeros(10, 8)),
            ("fc.bias", torch.zeros(10)),
        ]
    )
    result = make_tool("timm-remap")(their, my)
    assert list(result) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    assert torch.equal(result["conv.weight"], their["features.0.weight"].reshape(8, 27))
    assert torch.equal(result["conv.bias"], their["features.0.bias"])
    assert torch.equal(result["fc.weight"], their["classifier.weight"])
    assert torch.equal(result["fc.bias"], their["classifier.bias"])


def test_timm_remap_follows_order_even_when_it_is_wrong():
    their = OrderedDict([("b.weight", seeded(4, seed=5)), ("a.weight", seeded(4, seed=6))])
    my = OrderedDict([("a.weight", torch.zeros(4)), ("b.weight", torch.zeros(4))])
    result = make_tool("timm-remap")(their, my)
    assert torch.equal(result["a.weight"], their["b.weight"])
    assert torch.equal(result["b.weight"], their["a.weight"])


def test_timm_remap_refuses_element_count_mismatch_and_missing_leaves():
    their = tiny_their()
    mismatch = OrderedDict([("conv.weight", torch.zeros(8, 26))])
    with pytest.raises(ToolRefused, match="Tensor size mismatch conv.weight"):
        make_tool("timm-remap")(their, mismatch)
    longer = OrderedDict(list((k, torch.zeros_like(v)) for k, v in their.items()) + [("extra", torch.zeros(1))])
    with pytest.raises(ToolRefused, match="left 1 leaves unset, first 'extra'"):
        make_tool("timm-remap")(their, longer)


def test_timm_remap_does_not_apply_to_nested_trees():
    tool = make_tool("timm-remap")
    with pytest.raises(NotApplicable):
        tool(tiny_their(), {"dense": {"kernel": jnp.zeros((8, 10))}})
    assert tool.not_applicable == "my is not a flat state dict of torch tensors"


# ---- this repository's weightbridge ----


def test_weightbridge_tool_maps_an_unambiguous_pair_without_hints():
    their = OrderedDict([("encoder.proj.weight", seeded(6, 4, seed=7)), ("encoder.proj.bias", seeded(6, seed=8))])
    my = OrderedDict([("enc.projection.weight", torch.zeros(6, 4)), ("enc.projection.bias", torch.zeros(6))])
    tool = make_tool("weightbridge")
    result = tool(their, my)
    assert torch.equal(result["enc.projection.weight"], their["encoder.proj.weight"])
    assert torch.equal(result["enc.projection.bias"], their["encoder.proj.bias"])
    assert tool.hints_needed == []


def test_weightbridge_tool_retries_with_the_hints_each_ambiguity_proposes(monkeypatch):
    calls = []

    def adapt(their, my, hints=()):
        calls.append(list(hints))
        if len(calls) == 1:
            raise weightbridge.AmbiguityError("tie", hints=[("reduce", "conv1")])
        if len(calls) == 2:
            raise weightbridge.AmbiguityError("tie", hints=[("reduce", "conv1"), ("q", "query")])
        return {"done": hints}

    monkeypatch.setattr(weightbridge, "adapt", adapt)
    tool = make_tool("weightbridge")
    result = tool({}, {}, hints=[("given", "hint")])
    assert calls == [
        [("given", "hint")],
        [("given", "hint"), ("reduce", "conv1")],
        [("given", "hint"), ("reduce", "conv1"), ("q", "query")],
    ]
    assert result == {"done": [("given", "hint"), ("reduce", "conv1"), ("q", "query")]}
    assert tool.hints_needed == [("reduce", "conv1"), ("q", "query")]
    assert tool.zero_hint_error == "AmbiguityError: tie"


def test_weightbridge_tool_keeps_the_first_error_when_its_hints_fail(monkeypatch):
    def adapt(their, my, hints=()):
        if not hints:
            raise weightbridge.AmbiguityError("conv1 and conv3 tie\nsecond line", hints=[("reduce", "conv1")])
        raise weightbridge.HintError("hint ('reduce', 'conv1') is never needed")

    monkeypatch.setattr(weightbridge, "adapt", adapt)
    tool = make_tool("weightbridge")
    with pytest.raises(weightbridge.HintError, match="is never needed"):
        tool({}, {})
    assert tool.hints_needed == [("reduce", "conv1")]
    assert tool.zero_hint_error == "AmbiguityError: conv1 and conv3 tie\nsecond line"


def test_weightbridge_tool_reraises_an_ambiguity_without_a_new_hint(monkeypatch):
    def adapt(their, my, hints=()):
        raise weightbridge.AmbiguityError("axis order undecidable", hints=list(hints))

    monkeypatch.setattr(weightbridge, "adapt", adapt)
    tool = make_tool("weightbridge")
    with pytest.raises(weightbridge.AmbiguityError, match="axis order undecidable"):
        tool({}, {}, hints=[("a", "b")])
    assert tool.hints_needed == []
    assert tool.zero_hint_error is None


# ---- weightbridge 0.0.4 ----


def test_legacy_runner_returns_the_pairing_and_values_of_0_0_4():
    their = tiny_their()
    my = {
        "stem": {"conv": {"weight": torch.zeros(8, 3, 3, 3), "bias": torch.zeros(8)}},
        "head": {"fc": {"weight": torch.zeros(10, 8), "bias": torch.zeros(10)}},
    }
    run = run_legacy(their, my)
    assert run.ok, run.error
    assert run.error == ""
    assert run.pairs == {
        ("stem", "conv", "weight"): ("features.0.weight",),
        ("stem", "conv", "bias"): ("features.0.bias",),
        ("head", "fc", "weight"): ("classifier.weight",),
        ("head", "fc", "bias"): ("classifier.bias",),
    }
    np.testing.assert_array_equal(run.result["stem"]["conv"]["weight"], their["features.0.weight"].numpy())
    np.testing.assert_array_equal(run.result["head"]["fc"]["bias"], their["classifier.bias"].numpy())


def test_legacy_runner_takes_shape_only_leaves_and_passes_hints():
    with torch.device("meta"):
        their = {"layer.conv1.weight": torch.empty(4096, 4096), "layer.conv3.weight": torch.empty(4096, 4096)}
    my = {
        "block": {
            "reduce": {"w": torch.empty(4096, 4096, device="meta")},
            "expand": {"w": torch.empty(4096, 4096, device="meta")},
        }
    }
    run = run_legacy(their, my, hints=[("reduce", "conv3")])
    assert run.ok, run.error
    assert run.result is None
    assert run.pairs == {
        ("block", "reduce", "w"): ("layer.conv3.weight",),
        ("block", "expand", "w"): ("layer.conv1.weight",),
    }


def test_legacy_runner_reports_what_0_0_4_could_not_pair():
    their = {"a.weight": torch.zeros(3, 3), "b.weight": torch.zeros(3, 3)}
    my = {"x.weight": torch.zeros(3, 3), "y.weight": torch.zeros(3, 3)}
    run = run_legacy(their, my)
    assert not run.ok
    assert run.pairs == {}
    assert run.error.startswith("ValueError: Failed to pair input values with output values")
    assert "OUT load_prefix.x.weight ((3, 3),)" in run.error
    assert "IN  load_prefix.a.weight ((3, 3),)" in run.error


def test_legacy_tool_passes_layouts_from_array_types_and_converts_back():
    their = tiny_their()
    my = {
        "conv": {"kernel": jnp.zeros((3, 3, 3, 8)), "bias": jnp.zeros(8)},
        "dense": {"kernel": jnp.zeros((8, 10)), "bias": jnp.zeros(10)},
    }
    tool = make_tool("weightbridge-0.0.4")
    result = tool(their, my)
    assert type(result["conv"]["kernel"]) is type(my["conv"]["kernel"])
    np.testing.assert_array_equal(
        np.asarray(result["conv"]["kernel"]), their["features.0.weight"].permute(2, 3, 1, 0).numpy()
    )
    np.testing.assert_array_equal(np.asarray(result["dense"]["kernel"]), their["classifier.weight"].T.numpy())
    assert tool.run.pairs[("dense", "bias")] == ("classifier.bias",)
    assert tool.seconds == tool.run.seconds


def test_legacy_tool_treats_numpy_trees_with_kernels_as_tensorflow_layout():
    their = OrderedDict([("classifier.weight", seeded(10, 8, seed=3)), ("classifier.bias", seeded(10, seed=4))])
    my = {"dense/kernel": np.zeros((8, 10), np.float32), "dense/bias": np.zeros(10, np.float32)}
    result = make_tool("weightbridge-0.0.4")(their, my)
    np.testing.assert_array_equal(result["dense/kernel"], their["classifier.weight"].T.numpy())
    np.testing.assert_array_equal(result["dense/bias"], their["classifier.bias"].numpy())


def test_legacy_formats_only_between_layouts_that_differ():
    torch_tree = {"fc.weight": torch.zeros(2, 3)}
    flax_tree = {"fc": {"kernel": jnp.zeros((3, 2))}}
    keras_tree = {"fc/kernel": np.zeros((3, 2), np.float32)}
    assert legacy_formats(torch_tree, flax_tree) == ("pytorch", "flax")
    assert legacy_formats(keras_tree, torch_tree) == ("tensorflow", "pytorch")
    assert legacy_formats(torch_tree, torch_tree) == (None, None)
    assert legacy_formats(flax_tree, keras_tree) == (None, None)
    assert legacy_formats({"fc/w": np.zeros((3, 2), np.float32)}, flax_tree) == (None, None)


def test_legacy_tool_raises_0_0_4_refusals_as_value_errors():
    tool = make_tool("weightbridge-0.0.4")
    with pytest.raises(ToolRefused, match="Failed to pair"):
        tool({"a.weight": torch.zeros(3, 3), "b.weight": torch.zeros(3, 3)}, {"x.w": torch.zeros(3, 3), "y.w": torch.zeros(3, 3)})


# ---- measuring subprocesses ----


def test_run_measured_kills_on_timeout():
    process = run_measured([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert process.timed_out
    assert process.returncode == -9


def test_run_measured_peak_is_the_childs_own_not_this_process():
    small = run_measured([sys.executable, "-c", "import time; time.sleep(0.3)"], stdout=subprocess.DEVNULL)
    large = run_measured(
        [sys.executable, "-c", "import time; b = bytearray(400 * 2**20); time.sleep(0.3)"],
        stdout=subprocess.DEVNULL,
    )
    assert small.returncode == 0 and not small.timed_out
    # This process holds torch, jax and timm; none of that may show up in the child's peak.
    assert small.peak_bytes < 100 * 2**20
    assert large.peak_bytes > 400 * 2**20


# ---- the results page ----


def run_record(pair, tool, outcome, order="definition", hints=(), message="", zero_hint_error=None, relative_error=None):
    return {"pair": pair, "tool": tool, "order": order, "outcome": outcome, "hints_needed": [list(h) for h in hints],
            "message": message, "zero_hint_error": zero_hint_error, "relative_error": relative_error}


RECORDS = [
    run_record("a", "weightbridge", "correct", relative_error=0.0),
    run_record("b", "weightbridge", "correct", hints=[("reduce", "conv1")],
               zero_hint_error="AmbiguityError: conv1 and conv3 tie\n  OUT reduce ...", relative_error=0.0),
    run_record("c", "weightbridge", "error", message="UnmatchedError: x\n  y"),
    run_record("d", "weightbridge", "wrong", relative_error=0.5),
    run_record("e", "weightbridge", "error", order="alphabetical", hints=[("norm1", "ln_1")],
               zero_hint_error="AmbiguityError: norms tie\nmore", message="HintError: hint ('norm1', 'ln_1') is never needed\nmore"),
    run_record("a", "weightbridge", "correct", order="alphabetical", relative_error=0.0),
    run_record("a", "weightbridge-0.0.4", "correct", relative_error=0.0),
    run_record("b", "weightbridge-0.0.4", "error", message="ValueError: Failed to pair"),
    run_record("c", "weightbridge-0.0.4", "crashed", message="RuntimeError: exit code 1"),
    run_record("d", "weightbridge-0.0.4", "correct", relative_error=0.0),
    run_record("a", "weightbridge-0.0.4", "correct", order="alphabetical", relative_error=0.0),
    run_record("e", "weightbridge-0.0.4", "wrong", order="alphabetical", relative_error=1.0),
    run_record("c", "name-identity", "wrong", relative_error=1.0),
]


def test_shortfalls_give_the_first_line_of_the_error_a_user_meets_then_what_the_hints_did():
    assert report.weightbridge_shortfalls(RECORDS) == (
        "- b [definition]: error: AmbiguityError: conv1 and conv3 tie; "
        "with the hints it proposed, ('reduce', 'conv1'): correct\n"
        "- c [definition]: error: UnmatchedError: x\n"
        "- d [definition]: wrong: relative output error 0.5\n"
        "- e [alphabetical]: error: AmbiguityError: norms tie; "
        "with the hints it proposed, ('norm1', 'ln_1'): error: HintError: hint ('norm1', 'ln_1') is never needed"
    )
    assert report.weightbridge_shortfalls(RECORDS[:1]) == "None: weightbridge was correct on every pair with zero hints."
    many = run_record("f", "weightbridge", "correct", hints=[("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")],
                      zero_hint_error="AmbiguityError: tie", relative_error=0.0)
    assert report.weightbridge_shortfalls([many]) == (
        "- f [definition]: error: AmbiguityError: tie; "
        "with the hints it proposed, 4 hints: ('a', 'b'), ('c', 'd'), ('e', 'f'), ...: correct"
    )


def test_summary_counts_weightbridge_with_zero_hints_and_with_its_proposed_hints():
    assert report.format_summary(RECORDS, ["weightbridge", "name-identity"]).splitlines() == [
        "| tool | correct | error | wrong | crashed | n/a |",
        "|---|---|---|---|---|---|",
        "| weightbridge, zero hints | 2 | 3 | 1 | 0 | 0 |",
        "| weightbridge, proposed hints | 3 | 2 | 1 | 0 | 0 |",
        "| name-identity | 0 | 0 | 1 | 0 | 0 |",
    ]


def test_family_orders_count_each_tool_column_per_family_and_order():
    family_of = {"a": "ResNet", "b": "ResNet", "c": "ViT", "d": "ViT", "e": "ViT"}
    text = report.format_family_orders(RECORDS, family_of, ["weightbridge", "weightbridge-0.0.4"], ["definition", "alphabetical"])
    assert text.splitlines() == [
        "| family | order | pairs | weightbridge, zero hints | weightbridge, proposed hints | weightbridge-0.0.4 |",
        "|---|---|---|---|---|---|",
        "| ResNet | definition | 2 | 1 / 1 / 0 | 2 / 0 / 0 | 1 / 1 / 0 |",
        "| ResNet | alphabetical | 1 | 1 / 0 / 0 | 1 / 0 / 0 | 1 / 0 / 0 |",
        "| ViT | definition | 2 | 0 / 1 / 1 | 0 / 1 / 1 | 1 / 0 / 0 (1 crashed) |",
        "| ViT | alphabetical | 1 | 0 / 1 / 0 | 0 / 1 / 0 | 0 / 0 / 1 |",
        "| **all** | definition | 4 | 1 / 2 / 1 | 2 / 1 / 1 | 2 / 1 / 0 (1 crashed) |",
        "| **all** | alphabetical | 2 | 1 / 1 / 0 | 1 / 1 / 0 | 1 / 0 / 1 |",
    ]


def test_headline_and_readme_line_per_order_beside_0_0_4():
    tools = ["weightbridge", "weightbridge-0.0.4", "name-identity"]
    orders = ["definition", "alphabetical"]
    assert report.format_headline(RECORDS, tools, orders).splitlines() == [
        "| source order | pairs | weightbridge, zero hints | weightbridge 0.0.4 |",
        "|---|---|---|---|",
        "| definition | 4 | 1 / 2 / 1 | 2 / 1 / 0 (1 crashed) |",
        "| alphabetical | 2 | 1 / 1 / 0 | 1 / 0 / 1 |",
    ]
    assert report.readme_headline(RECORDS, tools, orders) == (
        "Zoo, 5 proven pairs, correct / clear error / wrong per source order: weightbridge with zero hints: "
        "definition 1 / 2 / 1, alphabetical 1 / 1 / 0; "
        "weightbridge 0.0.4: definition 2 / 1 / 0 (1 crashed), alphabetical 1 / 0 / 1."
    )
    assert report.readme_headline(RECORDS, ["weightbridge"], orders[:1]) == (
        "Zoo, 5 proven pairs, correct / clear error / wrong per source order: weightbridge with zero hints: "
        "definition 1 / 2 / 1."
    )


def test_readme_headline_is_replaced_between_its_markers_only():
    readme = f"# Title\n\nBefore.\n{report.HEADLINE_START}\nold line\n{report.HEADLINE_END}\nAfter.\n"
    assert report.replace_headline(readme, "new line") == (
        f"# Title\n\nBefore.\n{report.HEADLINE_START}\nnew line\n{report.HEADLINE_END}\nAfter.\n"
    )
    with pytest.raises(ValueError, match="the README has no"):
        report.replace_headline("# Title\n", "new line")


def test_the_repository_readme_has_the_headline_block():
    from benchmarks.results import README_PATH

    with open(README_PATH) as f:
        readme = f.read()
    assert report.replace_headline(readme, "new line").count("\nnew line\n") == 1


def test_results_are_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("old")
    write_atomically(str(path), "new results\n")
    assert path.read_text() == "new results\n"
    assert os.listdir(tmp_path) == ["RESULTS.md"]


# ---- the sweep ----

SIGNATURE = [
    ("stem.conv.weight", (8, 3, 3, 3), "float32"),
    ("stem.conv.bias", (8,), "float32"),
    ("stem.bn.weight", (8,), "float32"),
    ("stem.bn.bias", (8,), "float32"),
    ("stem.bn.running_mean", (8,), "float32"),
    ("stem.bn.running_var", (8,), "float32"),
    ("stem.bn.num_batches_tracked", (), "int64"),
    ("cls_token", (1, 1, 8), "float32"),
    ("blocks.0.norm1.weight", (8,), "float32"),
    ("blocks.0.ln1.weight", (8,), "float32"),
    ("blocks.0.attn.qkv.weight", (24, 8), "float32"),
    ("blocks.0.attn.qkv.bias", (24,), "float32"),
    ("blocks.10.mlp.fc1.weight", (32, 8), "float32"),
    ("head.weight", (10, 8), "float32"),
]


def test_perturb_as_flax_port():
    port = sweep.perturb(SIGNATURE, "flax")
    S = sweep.Signature
    assert port.their == {
        "batch_stats": {
            "stem": {
                "batchnorm": {
                    "count": S((), "int64"),
                    "mean": S((8,), "float32"),
                    "var": S((8,), "float32"),
                }
            }
        },
        "params": {
            "classifier": {"kernel": S((8, 10), "float32")},
            "cls_token": S((8,), "float32"),
            "layers_0": {
                "attention": {"qkv": {"bias": S((24,), "float32"), "kernel": S((8, 24), "float32")}},
                "ln1": {"scale": S((8,), "float32"), "scale_2": S((8,), "float32")},
            },
            "layers_10": {"ffn": {"dense1": {"kernel": S((8, 32), "float32")}}},
            "stem": {
                "batchnorm": {"bias": S((8,), "float32"), "scale": S((8,), "float32")},
                "conv": {"bias": S((8,), "float32"), "kernel": S((3, 3, 3, 8), "float32")},
            },
        },
    }
    assert list(port.their["params"]) == ["classifier", "cls_token", "layers_0", "layers_10", "stem"]
    assert port.truth == {
        "blocks.0.attn.qkv.bias": "params/layers_0/attention/qkv/bias",
        "blocks.0.attn.qkv.weight": "params/layers_0/attention/qkv/kernel",
        "blocks.0.ln1.weight": "params/layers_0/ln1/scale_2",
        "blocks.0.norm1.weight": "params/layers_0/ln1/scale",
        "blocks.10.mlp.fc1.weight": "params/layers_10/ffn/dense1/kernel",
        "cls_token": "params/cls_token",
        "head.weight": "params/classifier/kernel",
        "stem.bn.bias": "params/stem/batchnorm/bias",
        "stem.bn.num_batches_tracked": "batch_stats/stem/batchnorm/count",
        "stem.bn.running_mean": "batch_stats/stem/batchnorm/mean",
        "stem.bn.running_var": "batch_stats/stem/batchnorm/var",
        "stem.bn.weight": "params/stem/batchnorm/scale",
        "stem.conv.bias": "params/stem/conv/bias",
        "stem.conv.weight": "params/stem/conv/kernel",
    }


def test_perturb_as_tensorflow_checkpoint():
    port = sweep.perturb(SIGNATURE, "tf")
    assert [(name, s.shape) for name, s in port.their.items()] == [
        ("classifier/kernel", (8, 10)),
        ("cls_token", (1, 1, 8)),
        ("layers/0/attention/qkv/bias", (24,)),
        ("layers/0/attention/qkv/kernel", (8, 24)),
        ("layers/0/ln1/gamma", (8,)),
        ("layers/0/ln1/gamma_2", (8,)),
        ("layers/10/ffn/dense1/kernel", (8, 32)),
        ("stem/batchnorm/beta", (8,)),
        ("stem/batchnorm/gamma", (8,)),
        ("stem/batchnorm/moving_mean", (8,)),
        ("stem/batchnorm/moving_variance", (8,)),
        ("stem/batchnorm/steps", ()),
        ("stem/conv/bias", (1, 1, 1, 8)),
        ("stem/conv/kernel", (3, 3, 3, 8)),
    ]
    assert port.truth["stem.bn.running_var"] == "stem/batchnorm/moving_variance"
    assert port.truth["blocks.0.ln1.weight"] == "layers/0/ln1/gamma_2"


def test_perturb_renames_a_module_that_would_sit_where_a_leaf_is():
    port = sweep.perturb([("norm", (4,), "float32"), ("ln.weight", (4,), "float32")], "tf")
    assert port.truth == {"norm": "norm", "ln.weight": "ln/gamma"}
    port = sweep.perturb([("ln", (4,), "float32"), ("norm.weight", (4,), "float32")], "tf")
    assert port.truth == {"ln": "ln", "norm.weight": "ln_2/gamma"}


def test_classify_names_the_first_wrong_pair():
    port = sweep.perturb(SIGNATURE[:2], "tf")
    right = types.SimpleNamespace(
        pairs=[
            types.SimpleNamespace(my="stem.conv.weight", their=("stem/conv/kernel",)),
            types.SimpleNamespace(my="stem.conv.bias", their=("stem/conv/bias",)),
        ],
        my_aliases={},
    )
    assert sweep.classify(port, right) == ("exact", "")
    swapped = types.SimpleNamespace(pairs=right.pairs[:1], my_aliases={})
    assert sweep.classify(port, swapped) == ("wrong", "stem.conv.bias <- nothing, expected stem/conv/bias")


def test_sweep_reports_architectures_that_do_not_instantiate():
    report = sweep.run_sweep(["no_such_architecture"], timeout=120, workers=1)
    assert [(r["model"], r["style"], r["outcome"]) for r in report.records] == [
        ("no_such_architecture", "flax", "skipped"),
        ("no_such_architecture", "tf", "skipped"),
    ]
    assert report.skipped == [("no_such_architecture", "RuntimeError: Unknown model (no_such_architecture)")]
    assert report.not_run == ()


def test_fusion_speed_section_lists_before_after_and_ratio():
    import argparse

    from benchmarks.fusion_speed import format_section

    rows = [("resnet50: torchvision -> timm", 640, 0.5, 0.25, "ok -> ok")]
    text = format_section(rows, argparse.Namespace(rounds=2, repeat=3, before="fe1b266"))
    assert text.splitlines()[-2:] == [
        "| resnet50: torchvision -> timm | 640 | 0.500 | 0.250 | 0.50 | ok -> ok |",
        "| total | | 0.500 | 0.250 | 0.50 | |",
    ]
    assert "with the code of commit fe1b266" in text
