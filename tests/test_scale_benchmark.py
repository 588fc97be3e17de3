"""The scale benchmark's own logic: the synthetic checkpoints, the judging, the table, RESULTS.md sections.

The runs against weightbridge 0.0.4 use its environment in `benchmarks/.work/legacy-venv`
(installed from PyPI on first use, or under `$WEIGHTBRIDGE_BENCH_WORK`).
"""

import argparse
import json
import os

import numpy as np
import pytest

from benchmarks import results, scale
from benchmarks.legacy import LegacyRun


# ---- the synthetic checkpoints ----


def test_named_sizes_have_the_announced_number_of_tensors_on_both_sides():
    counts = {}
    for name, model in scale.SIZES.items():
        their, my, truth = scale.checkpoint_pair(model)
        assert len(their) == len(my) == len(truth) == model.tensors
        counts[name] = model.tensors
    assert counts == {"1k": 1015, "10k": 10064, "30k": 29900, "50k": 50084, "100k": 101013}


def test_deepseek_v3_sized_model_has_45212_tensors():
    assert scale.parse_size("61x3x256").tensors == 45212


def test_the_truth_is_one_to_one_and_pairs_equal_signatures():
    their, my, truth = scale.checkpoint_pair(scale.parse_size("3x1x2"))
    assert sorted(truth) == sorted(my)
    assert sorted(truth.values()) == sorted(their)
    assert all(their[truth[name]] == leaf for name, leaf in my.items())


def test_the_truth_pairs_the_conventions_names():
    _, _, truth = scale.checkpoint_pair(scale.parse_size("3x1x2"))
    assert truth["tok_embeddings.weight"] == "model.embed_tokens.weight"
    assert truth["output.weight"] == "lm_head.weight"
    assert truth["norm.weight"] == "model.norm.weight"
    assert truth["layers.0.attention.wo.weight"] == "model.layers.0.self_attn.o_proj.weight"
    assert truth["layers.0.attention_norm.weight"] == "model.layers.0.input_layernorm.weight"
    assert truth["layers.0.ffn_norm.weight"] == "model.layers.0.post_attention_layernorm.weight"
    assert truth["layers.0.feed_forward.w2.weight"] == "model.layers.0.mlp.down_proj.weight"
    assert truth["layers.2.feed_forward.experts.1.w1.weight"] == "model.layers.2.mlp.experts.1.gate_proj.weight"
    assert truth["layers.2.feed_forward.experts.1.w3.weight"] == "model.layers.2.mlp.experts.1.up_proj.weight"
    assert truth["layers.2.feed_forward.gate.weight"] == "model.layers.2.mlp.gate.weight"
    assert truth["layers.2.feed_forward.gate.bias"] == "model.layers.2.mlp.gate.e_score_correction_bias"
    assert truth["layers.1.feed_forward.shared_experts.w2.weight"] == "model.layers.1.mlp.shared_experts.down_proj.weight"


def test_each_convention_enumerates_a_block_in_its_own_order():
    model = scale.parse_size("2x1x2")
    transformers = [name for name, *_ in scale.enumerate_tensors(model, scale.TRANSFORMERS)]
    release = [name for name, *_ in scale.enumerate_tensors(model, scale.RELEASE)]
    assert transformers[10:27] == [
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.1.self_attn.k_proj.weight",
        "model.layers.1.self_attn.v_proj.weight",
        "model.layers.1.self_attn.o_proj.weight",
        "model.layers.1.mlp.experts.0.gate_proj.weight",
        "model.layers.1.mlp.experts.0.up_proj.weight",
        "model.layers.1.mlp.experts.0.down_proj.weight",
        "model.layers.1.mlp.experts.1.gate_proj.weight",
        "model.layers.1.mlp.experts.1.up_proj.weight",
        "model.layers.1.mlp.experts.1.down_proj.weight",
        "model.layers.1.mlp.gate.weight",
        "model.layers.1.mlp.gate.e_score_correction_bias",
        "model.layers.1.mlp.shared_experts.gate_proj.weight",
        "model.layers.1.mlp.shared_experts.up_proj.weight",
        "model.layers.1.mlp.shared_experts.down_proj.weight",
        "model.layers.1.input_layernorm.weight",
        "model.layers.1.post_attention_layernorm.weight",
    ]
    assert release[:10] == [
        "tok_embeddings.weight",
        "layers.0.attention.wq.weight",
        "layers.0.attention.wk.weight",
        "layers.0.attention.wv.weight",
        "layers.0.attention.wo.weight",
        "layers.0.attention_norm.weight",
        "layers.0.ffn_norm.weight",
        "layers.0.feed_forward.w1.weight",
        "layers.0.feed_forward.w2.weight",
        "layers.0.feed_forward.w3.weight",
    ]
    assert release[-2:] == ["norm.weight", "output.weight"]


def test_leaves_hold_shapes_and_dtypes_but_no_data():
    their, my, _ = scale.checkpoint_pair(scale.parse_size("2x1x2"))
    leaf = my["layers.1.feed_forward.experts.0.w2.weight"]
    assert leaf == scale.Signature((7168, 2048), np.dtype(scale.ml_dtypes.bfloat16))
    assert their["model.layers.1.mlp.gate.e_score_correction_bias"] == scale.Signature((2,), np.dtype(np.float32))
    assert not hasattr(leaf, "__array__")


def test_parse_size_takes_names_and_layers_dense_experts():
    assert scale.parse_size("30k") is scale.SIZES["30k"]
    assert scale.parse_size("4x1x8") == scale.ScaleModel("4x1x8", layers=4, dense_layers=1, experts=8)
    assert scale.parse_size("2x2x0").tensors == 3 + 2 * 9
    with pytest.raises(argparse.ArgumentTypeError, match=r"size '20k' is neither one of 1k, 10k, 30k, 50k, 100k nor LAYERSxDENSExEXPERTS"):
        scale.parse_size("20k")
    with pytest.raises(argparse.ArgumentTypeError, match=r"size '2x3x4': need 0 <= dense <= layers"):
        scale.parse_size("2x3x4")
    with pytest.raises(argparse.ArgumentTypeError, match=r"size '2x1x0': need"):
        scale.parse_size("2x1x0")


# ---- judging a mapping against the truth ----


def test_judge_accepts_exactly_the_true_pairs_as_they_are():
    truth = {"a": "x", "b": "y", "c": "z"}
    assert scale.judge({"a": (("x",), ""), "b": (("y",), ""), "c": (("z",), "")}, truth) == ("correct", "")


def test_judge_counts_swaps_transforms_and_missing_pairs_as_wrong():
    truth = {"a": "x", "b": "y", "c": "z", "d": "w"}
    found = {"a": (("y",), ""), "b": (("x",), ""), "c": (("z",), "a b -> b a")}
    assert scale.judge(found, truth, shown=4) == (
        "wrong: 4 of 4",
        "a <- y, not x; b <- x, not y; c <- z (a b -> b a), not z; d <- nothing, not w",
    )


def test_legacy_pairs_are_judged_against_the_truth(monkeypatch):
    model = scale.parse_size("2x2x0")
    _, _, truth = scale.checkpoint_pair(model)
    pairs = {(my,): (their,) for my, their in truth.items()}
    pairs[("norm.weight",)] = ("model.layers.0.input_layernorm.weight",)
    calls = []

    def fake_run_legacy(their, my, hints=(), **options):
        calls.append((len(their), len(my), hints, options))
        return LegacyRun(ok=True, error="", seconds=1.5, wall_seconds=2.0, peak_bytes=3 * 2**20, pairs=pairs)

    monkeypatch.setattr(scale, "run_legacy", fake_run_legacy)
    record = scale.measure_legacy(model, timeout=5)
    assert calls == [(21, 21, (), {"values": False, "timeout": 5})]
    assert record == {
        "outcome": "wrong: 1 of 21",
        "message": "norm.weight <- model.layers.0.input_layernorm.weight, not model.norm.weight",
        "seconds": 1.5,
        "peak_bytes": 3 * 2**20,
        "match_bytes": None,
    }


def test_weightbridge_child_writes_its_judged_record(monkeypatch, tmp_path):
    import weightbridge

    _, _, truth = scale.checkpoint_pair(scale.parse_size("2x1x1"))

    class FoundPairs:
        pairs = [weightbridge.Pair(my=my, their=(their,), transform="") for my, their in truth.items()]

    monkeypatch.setattr(weightbridge, "match", lambda their, my: FoundPairs)
    scale.run_weightbridge_child("2x1x1", str(tmp_path / "record.json"), 2**30)
    record = json.loads((tmp_path / "record.json").read_text())
    assert (record["outcome"], record["message"]) == ("correct", "")
    assert record["peak_bytes"] > 0

    def refuse(their, my):
        raise weightbridge.AmbiguityError("layers.0.attention.wq.weight and layers.0.attention.wo.weight tie")

    monkeypatch.setattr(weightbridge, "match", refuse)
    scale.run_weightbridge_child("2x1x1", str(tmp_path / "record.json"), 2**30)
    record = json.loads((tmp_path / "record.json").read_text())
    assert (record["outcome"], record["message"]) == (
        "error", "AmbiguityError: layers.0.attention.wq.weight and layers.0.attention.wo.weight tie"
    )

    def exhaust(their, my):
        raise MemoryError

    monkeypatch.setattr(weightbridge, "match", exhaust)
    scale.run_weightbridge_child("2x1x1", str(tmp_path / "record.json"), 2**30)
    record = json.loads((tmp_path / "record.json").read_text())
    assert (record["outcome"], record["message"]) == ("out of memory", "over 1024 MiB")


def test_a_weightbridge_run_past_its_timeout_is_stopped_and_reported():
    record = scale.measure_weightbridge(scale.parse_size("2x1x1"), timeout=0.01)
    assert record["outcome"] == "timeout"
    assert record["message"] == "over 0.01 s"
    assert record["match_bytes"] is None


def test_a_weightbridge_process_out_of_memory_is_reported_as_such():
    record = scale.measure_weightbridge(scale.parse_size("2x1x1"), timeout=60, memory_limit=30 * 2**20)
    assert (record["outcome"], record["message"]) == ("out of memory", "over 30 MiB")


def test_a_legacy_run_past_its_timeout_is_stopped_and_reported():
    record = scale.measure_legacy(scale.parse_size("2x1x1"), timeout=0.01)
    assert (record["outcome"], record["message"]) == ("timeout", "over 0.01 s")


def test_legacy_refusal_is_an_error_with_its_message():
    record = scale.measure_legacy(scale.parse_size("2x2x0"), timeout=120)
    assert record["outcome"] == "error"
    assert record["message"].startswith("ValueError: Failed to pair input values with output values")


# ---- running sizes, ratios and the table ----


def fake_record(outcome, seconds, peak_mib=100, match_mib=None):
    return {"outcome": outcome, "message": "", "seconds": seconds, "peak_bytes": peak_mib * 2**20,
            "match_bytes": None if match_mib is None else match_mib * 2**20}


def test_a_tool_that_times_out_or_runs_out_of_memory_is_skipped_at_larger_sizes(monkeypatch):
    calls = []
    outcomes = {("10k", "weightbridge"): "out of memory", ("30k", "weightbridge-0.0.4"): "timeout"}

    def measure(tool):
        def run(model, timeout, memory_limit):
            calls.append((model.name, tool, timeout, memory_limit))
            return fake_record(outcomes.get((model.name, tool), "correct"), 1.0)
        return run

    monkeypatch.setattr(scale, "MEASURE", {tool: measure(tool) for tool in scale.TOOLS})
    models = [scale.SIZES[name] for name in ("1k", "10k", "30k", "50k")]
    records = scale.run_benchmark(models, scale.TOOLS, timeout=7, memory_limit=2**30)
    assert [(name, tool) for name, tool, *_ in calls] == [
        ("1k", "weightbridge"), ("1k", "weightbridge-0.0.4"),
        ("10k", "weightbridge"), ("10k", "weightbridge-0.0.4"),
        ("30k", "weightbridge-0.0.4"),
    ]
    assert {call[2:] for call in calls} == {(7, 2**30)}
    assert records["30k", "weightbridge"]["outcome"] == "skipped"
    assert records["30k", "weightbridge"]["message"] == "out of memory at 10k"
    assert records["50k", "weightbridge-0.0.4"]["message"] == "timeout at 30k"


def test_speedup_is_a_bound_when_one_tool_timed_out():
    assert scale.speedup(fake_record("error", 30.0), fake_record("correct", 2.5)) == "12x"
    assert scale.speedup(fake_record("timeout", 600.0), fake_record("wrong: 3 of 10", 20.0)) == "> 30x"
    assert scale.speedup(fake_record("correct", 60.0), fake_record("timeout", 600.0)) == "< 0.1x"
    assert scale.speedup(fake_record("error", 2.38), fake_record("wrong: 208 of 403", 53.3)) == "0.0447x"
    assert scale.speedup(fake_record("timeout", 600.0), fake_record("timeout", 600.0)) == ""
    assert scale.speedup(fake_record("correct", 60.0), fake_record("out of memory", 9.0)) == ""
    assert scale.speedup(fake_record("correct", 60.0), None) == ""


def test_table_has_one_row_per_size_with_both_tools_and_the_ratio():
    models = [scale.SIZES["1k"], scale.SIZES["10k"]]
    records = {
        ("1k", "weightbridge"): fake_record("correct", 0.5, peak_mib=150, match_mib=20),
        ("1k", "weightbridge-0.0.4"): fake_record("correct", 13.0, peak_mib=70),
        ("10k", "weightbridge"): {**fake_record("timeout", 600.0, peak_mib=900), "message": "over 600 s"},
        ("10k", "weightbridge-0.0.4"): fake_record("error", 95.25, peak_mib=300),
    }
    assert scale.format_table(models, records).splitlines()[2:] == [
        "| 1k | 1,015 | 18 layers (1 dense) x 16 experts | correct | 0.50 | 150 | 20 | correct | 13.0 | 70 | 26x |",
        "| 10k | 10,064 | 61 layers (3 dense) x 54 experts | timeout (over 600 s) | 600.0 | 900 |  | error | 95.2 "
        "| 300 | < 0.159x |",
    ]


def test_main_writes_its_section_into_the_results_file(monkeypatch, tmp_path):
    output = tmp_path / "RESULTS.md"
    output.write_text("# Benchmark results\n\n## Zoo pairs\n\nzoo table\n")
    monkeypatch.setattr(scale, "MEASURE", {tool: lambda model, timeout, limit: fake_record("correct", 2.0)
                                           for tool in scale.TOOLS})
    scale.main(["--sizes", "2x1x1", "--output", str(output), "--timeout", "5"])
    text = output.read_text()
    assert text.startswith("# Benchmark results\n\n## Zoo pairs\n\nzoo table\n\n## Scale: matching 1k to 100k tensors\n\n")
    assert "| 2x1x1 | 26 | 2 layers (1 dense) x 1 experts | correct | 2.00 | 100 |  | correct | 2.00 | 100 | 1x |" in text
    assert "by `python -m benchmarks.scale --sizes 2x1x1 --output" in text


# ---- RESULTS.md sections ----


RESULTS = """# Benchmark results

Generated by the zoo.

## Zoo pairs

| pair | outcome |
|---|---|

### Pairs

- resnet

## Scale: matching 1k to 100k tensors

old scale table

### Notes

```
## not a heading
```

## timm sweep

sweep text
"""


def test_replace_section_replaces_one_section_with_its_subsections_and_keeps_the_rest():
    new = results.replace_section(RESULTS, "## Scale: matching 1k to 100k tensors", "new scale table\n")
    before, after = RESULTS.split("## Scale")[0], RESULTS.split("## timm sweep")[1]
    assert new == before + "## Scale: matching 1k to 100k tensors\n\nnew scale table\n\n## timm sweep" + after


def test_replace_section_appends_a_missing_section():
    new = results.replace_section(RESULTS, "## Streaming conversion", "| | seconds |")
    assert new == RESULTS + "\n## Streaming conversion\n\n| | seconds |\n\n"
    assert results.replace_section("", "## Streaming conversion", "x") == "## Streaming conversion\n\nx\n\n"


def test_replace_section_ignores_headings_in_code_blocks():
    new = results.replace_section(RESULTS, "## not a heading", "x")
    assert new == RESULTS + "\n## not a heading\n\nx\n\n"


def test_replace_section_needs_a_level_two_heading():
    with pytest.raises(ValueError, match=r"a section heading is one line starting with '## ', got '### Notes'"):
        results.replace_section(RESULTS, "### Notes", "x")


def test_a_whole_file_rewrite_keeps_the_sections_it_does_not_write():
    zoo = "# Benchmark results\n\nGenerated again.\n\n## Zoo pairs\n\nnew zoo\n\n## timm sweep\n\nnew sweep\n"
    merged = results.keep_other_sections(RESULTS, zoo)
    scale_section = "## Scale" + RESULTS.split("## Scale")[1].split("## timm sweep")[0]
    assert merged == zoo + "\n" + scale_section
    assert results.keep_other_sections("# Benchmark results\n\n## Zoo pairs\n\nold\n", zoo) == zoo


def test_write_section_replaces_the_file_atomically(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(RESULTS)
    results.write_section(str(path), "## timm sweep", "new sweep")
    assert path.read_text() == RESULTS.split("## timm sweep")[0] + "## timm sweep\n\nnew sweep\n\n"
    assert os.listdir(tmp_path) == ["RESULTS.md"]
    results.write_section(str(tmp_path / "new.md"), "## Scale", "table")
    assert (tmp_path / "new.md").read_text() == "## Scale\n\ntable\n\n"
