"""Matching cost on checkpoints of 1,000 to 100,000 tensors: weightbridge against weightbridge 0.0.4.

    python -m benchmarks.scale                                  # every size, both tools, RESULTS.md
    python -m benchmarks.scale --sizes 1k 10k --timeout 300
    python -m benchmarks.scale --sizes 4x1x2 --tools weightbridge --output /tmp/results.md

The checkpoints are synthetic mixtures of experts in the style of DeepSeek-V3 and Mixtral: the
first layers have a dense MLP, every later layer a router (weight and bias), routed experts and a
shared expert; attention is grouped-query (q, k, v, o). `their` is named as transformers names
such models (`model.layers.{l}.self_attn.q_proj.weight`, `model.layers.{l}.mlp.experts.{e}.gate_proj.weight`,
`mlp.gate.weight`, `mlp.gate.e_score_correction_bias`, `mlp.shared_experts.*`, `input_layernorm`,
`post_attention_layernorm`, `model.embed_tokens`, `model.norm`, `lm_head`), `my` as the original
releases do (`layers.{l}.attention.wq.weight`, `layers.{l}.feed_forward.experts.{e}.w1.weight`,
`feed_forward.gate.weight`, `feed_forward.gate.bias`, `feed_forward.shared_experts.*`,
`attention_norm`, `ffn_norm`, `tok_embeddings`, `norm`, `output`). Each side is enumerated in its
own convention's order: transformers' module order (attention, MLP with experts before router
before shared expert, then the two norms) and mistral-inference's (attention, the two norms,
then the feed-forward with experts before router, DeepSeek's shared expert last). The two are
one to one, no tensor is fused, so the true mapping is known and every result is checked
against it. Shapes are DeepSeek-V3's (hidden 7168, expert hidden 2048, dense hidden 18432,
vocabulary 129280, bfloat16, the router bias float32) with grouped-query attention of 56 query
and 8 key/value heads of 128. DeepSeek-V3 itself (61 layers, 3 dense, 256 experts) has 45,212
tensors in this form; `--sizes 61x3x256` measures it.

Leaves are `Signature`s, objects with only `.shape` and `.dtype`, so building a side costs a
few bytes per tensor and no tool can touch tensor data. weightbridge runs `match(their, my)` in
a fresh process per size; 0.0.4 runs `adapt` in its own environment (`benchmarks.legacy`), which
rebuilds the leaves as zero-stride arrays. weightbridge's process may allocate at most
`--memory-limit` GiB (6 by default; the machine is shared). A tool that times out or runs out of
memory at one size is not run at the larger ones. Seconds are spent inside the tool (not
interpreter start or building the leaves); peak MiB is the peak resident memory of the tool's
whole process, match MiB how far matching raised it.
"""

import argparse
import dataclasses
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import ml_dtypes
import numpy as np

from benchmarks.legacy import LEGACY_VERSION, peak_resident_bytes, run_legacy, run_measured
from benchmarks.results import REPOSITORY, RESULTS_PATH, versions_line, write_section

SECTION = "## Scale: matching 1k to 100k tensors"
TOOLS = ("weightbridge", "weightbridge-0.0.4")
DEFAULT_MEMORY_LIMIT = 6 * 2**30
TARGETS = "100k tensors in under 10 s, peak memory under 1 GB, at least 20x faster than 0.0.4 at 30k"

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)
WIDTH, QUERY, KEY_VALUE = 7168, 56 * 128, 8 * 128
DENSE_HIDDEN, EXPERT_HIDDEN, VOCAB = 18432, 2048, 129280

# Shapes by projection, named as transformers names them.
ATTENTION_SHAPES = {"q": (QUERY, WIDTH), "k": (KEY_VALUE, WIDTH), "v": (KEY_VALUE, WIDTH), "o": (WIDTH, QUERY)}
DENSE_SHAPES = {"gate": (DENSE_HIDDEN, WIDTH), "up": (DENSE_HIDDEN, WIDTH), "down": (WIDTH, DENSE_HIDDEN)}
EXPERT_SHAPES = {"gate": (EXPERT_HIDDEN, WIDTH), "up": (EXPERT_HIDDEN, WIDTH), "down": (WIDTH, EXPERT_HIDDEN)}


@dataclasses.dataclass(frozen=True)
class Convention:
    """How one family of checkpoints names and orders a mixture of experts.

    names: a format string per kind of tensor, filled with `layer`, `expert` and `projection`.
    projections: each projection's name, in the order the convention enumerates an MLP's.
    block: the order of a block's parts: "attention", "norms" and "mlp".
    """

    names: dict
    projections: dict
    block: tuple


TRANSFORMERS = Convention(
    names={
        "embedding": "model.embed_tokens.weight",
        "attention": "model.layers.{layer}.self_attn.{projection}.weight",
        "mlp": "model.layers.{layer}.mlp.{projection}.weight",
        "expert": "model.layers.{layer}.mlp.experts.{expert}.{projection}.weight",
        "router": "model.layers.{layer}.mlp.gate.weight",
        "router bias": "model.layers.{layer}.mlp.gate.e_score_correction_bias",
        "shared": "model.layers.{layer}.mlp.shared_experts.{projection}.weight",
        "attention norm": "model.layers.{layer}.input_layernorm.weight",
        "mlp norm": "model.layers.{layer}.post_attention_layernorm.weight",
        "norm": "model.norm.weight",
        "head": "lm_head.weight",
    },
    projections={"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
                 "gate": "gate_proj", "up": "up_proj", "down": "down_proj"},
    block=("attention", "mlp", "norms"),
)
RELEASE = Convention(
    names={
        "embedding": "tok_embeddings.weight",
        "attention": "layers.{layer}.attention.{projection}.weight",
        "mlp": "layers.{layer}.feed_forward.{projection}.weight",
        "expert": "layers.{layer}.feed_forward.experts.{expert}.{projection}.weight",
        "router": "layers.{layer}.feed_forward.gate.weight",
        "router bias": "layers.{layer}.feed_forward.gate.bias",
        "shared": "layers.{layer}.feed_forward.shared_experts.{projection}.weight",
        "attention norm": "layers.{layer}.attention_norm.weight",
        "mlp norm": "layers.{layer}.ffn_norm.weight",
        "norm": "norm.weight",
        "head": "output.weight",
    },
    # w1, w2, w3: the down projection is w2.
    projections={"q": "wq", "k": "wk", "v": "wv", "o": "wo", "gate": "w1", "down": "w2", "up": "w3"},
    block=("attention", "norms", "mlp"),
)


@dataclasses.dataclass(frozen=True)
class Signature:
    """A leaf with a shape and a dtype and nothing else: no data, no `__array__`."""

    shape: tuple
    dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class ScaleModel:
    """A synthetic mixture of experts: `layers` blocks, the first `dense_layers` of them dense."""

    name: str
    layers: int
    dense_layers: int
    experts: int

    @property
    def tensors(self):
        """Tensors per side: embedding, final norm, head; per block attention (4) and norms (2);
        a dense MLP (3) or router weight and bias, shared expert (3) and 3 per routed expert."""
        moe_layers = self.layers - self.dense_layers
        return 3 + self.layers * 6 + self.dense_layers * 3 + moe_layers * (2 + 3 + 3 * self.experts)

    @property
    def description(self):
        return f"{self.layers} layers ({self.dense_layers} dense) x {self.experts} experts"


SIZES = {
    model.name: model
    for model in (
        ScaleModel("1k", layers=18, dense_layers=1, experts=16),
        ScaleModel("10k", layers=61, dense_layers=3, experts=54),
        ScaleModel("30k", layers=61, dense_layers=3, experts=168),
        ScaleModel("50k", layers=61, dense_layers=3, experts=284),
        ScaleModel("100k", layers=126, dense_layers=3, experts=270),
    )
}


def parse_size(text):
    """A size by name (`1k`, `10k`, `30k`, `50k`, `100k`) or as `LAYERSxDENSExEXPERTS` (`61x3x256`)."""
    if text in SIZES:
        return SIZES[text]
    found = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text)
    if not found:
        raise argparse.ArgumentTypeError(f"size {text!r} is neither one of {', '.join(SIZES)} nor LAYERSxDENSExEXPERTS")
    layers, dense, experts = (int(n) for n in found.groups())
    if not 0 <= dense <= layers or layers < 1 or (experts < 1 and dense < layers):
        raise argparse.ArgumentTypeError(f"size {text!r}: need 0 <= dense <= layers, layers >= 1, experts >= 1")
    return ScaleModel(text, layers, dense, experts)


def enumerate_tensors(model, convention):
    """`(name, shape, dtype, role)` of every tensor of `model`, named and ordered by `convention`.

    `role` is the same tuple in every convention for the same weight.
    """
    mlp_order = [p for p in convention.projections if p in DENSE_SHAPES]

    def tensor(kind, shape, dtype=BF16, layer=None, expert=None, projection=None):
        name = convention.names[kind].format(
            layer=layer, expert=expert, projection=convention.projections.get(projection)
        )
        return name, shape, dtype, (kind, layer, expert, projection)

    def block(layer):
        parts = {"attention": [tensor("attention", shape, layer=layer, projection=p)
                               for p, shape in ATTENTION_SHAPES.items()],
                 "norms": [tensor("attention norm", (WIDTH,), layer=layer), tensor("mlp norm", (WIDTH,), layer=layer)]}
        if layer < model.dense_layers:
            parts["mlp"] = [tensor("mlp", DENSE_SHAPES[p], layer=layer, projection=p) for p in mlp_order]
        else:
            parts["mlp"] = [
                tensor("expert", EXPERT_SHAPES[p], layer=layer, expert=e, projection=p)
                for e in range(model.experts) for p in mlp_order
            ] + [
                tensor("router", (model.experts, WIDTH), layer=layer),
                tensor("router bias", (model.experts,), F32, layer=layer),
            ] + [tensor("shared", EXPERT_SHAPES[p], layer=layer, projection=p) for p in mlp_order]
        return [t for part in convention.block for t in parts[part]]

    yield tensor("embedding", (VOCAB, WIDTH))
    for layer in range(model.layers):
        yield from block(layer)
    yield tensor("norm", (WIDTH,))
    yield tensor("head", (VOCAB, WIDTH))


def checkpoint_pair(model):
    """`(their, my, truth)`: transformers-style and release-style flat dicts of `Signature`s, and
    `truth[my_name] == their_name` for the tensor that holds the same weight."""
    their, my, their_by_role, truth = {}, {}, {}, {}
    for name, shape, dtype, role in enumerate_tensors(model, TRANSFORMERS):
        their[name] = Signature(shape, dtype)
        their_by_role[role] = name
    for name, shape, dtype, role in enumerate_tensors(model, RELEASE):
        my[name] = Signature(shape, dtype)
        truth[name] = their_by_role[role]
    return their, my, truth


def judge(found, truth, shown=3):
    """`(outcome, message)`: "correct", or "wrong: N of M" with the first `shown` wrong pairs.

    `found[my_name]` is `(their_names, transform)`; a pair is right when it takes exactly the true
    tensor with no transform (the shapes are equal, so any transform permutes a square matrix or
    swaps tensors of transposed shapes). A `my` tensor missing from `found` is wrong.
    """
    wrong = [name for name, their in truth.items() if found.get(name) != ((their,), "")]
    if not wrong:
        return "correct", ""
    examples = []
    for name in wrong[:shown]:
        their, transform = found.get(name, ((), ""))
        got = " + ".join(their) or "nothing"
        examples.append(f"{name} <- {got}{f' ({transform})' if transform else ''}, not {truth[name]}")
    return f"wrong: {len(wrong)} of {len(truth)}", "; ".join(examples)


def run_weightbridge_child(size, output_path, memory_limit):
    """The child side: match one size with this repository's weightbridge, write a JSON record.

    `memory_limit` is only reported: `main` limits the child process before it gets here.
    """
    import weightbridge

    their, my, truth = checkpoint_pair(parse_size(size))
    before = peak_resident_bytes()
    out_of_memory = False
    start = time.perf_counter()
    try:
        mapping = weightbridge.match(their, my)
    except MemoryError:
        # Nothing may allocate here: the failed call's frames live until this block ends.
        out_of_memory = True
    except Exception as error:  # weightbridge's own errors are refusals; anything else is a crash
        seconds = time.perf_counter() - start
        outcome = "error" if isinstance(error, weightbridge.WeightbridgeError) else "crashed"
        message = f"{type(error).__name__}: {error}"
    else:
        seconds = time.perf_counter() - start
        found = {pair.my: (tuple(pair.their), pair.transform) for pair in mapping.pairs}
        outcome, message = judge(found, truth)
    if out_of_memory:
        seconds = time.perf_counter() - start
        outcome, message = "out of memory", f"over {memory_limit / 2**20:.0f} MiB"
    peak = peak_resident_bytes()
    record = {"outcome": outcome, "message": message, "seconds": seconds, "peak_bytes": peak,
              "match_bytes": peak - before}
    with open(output_path, "w") as f:
        json.dump(record, f)


def measure_weightbridge(model, timeout, memory_limit=DEFAULT_MEMORY_LIMIT):
    """This repository's `match` on `model` in a fresh process, stopped after `timeout` seconds
    or when it would allocate more than `memory_limit` bytes."""
    with tempfile.TemporaryDirectory(prefix="scale-run-") as folder:
        output_path = os.path.join(folder, "record.json")
        log_path = os.path.join(folder, "log.txt")
        size = f"{model.layers}x{model.dense_layers}x{model.experts}"
        with open(log_path, "w") as log:
            process = run_measured(
                [sys.executable, "-m", "benchmarks.scale", "--run-one", size, output_path, str(memory_limit)],
                timeout=timeout, stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY,
            )
        if os.path.exists(output_path):
            with open(output_path) as f:
                record = json.load(f)
            record["peak_bytes"] = max(record["peak_bytes"], process.peak_bytes)
            return record
        with open(log_path) as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        if lines and lines[-1].startswith("MemoryError"):  # raised where the child could not catch it
            return {"outcome": "out of memory", "message": f"over {memory_limit / 2**20:.0f} MiB", "seconds": None,
                    "peak_bytes": process.peak_bytes, "match_bytes": None}
        if process.timed_out:
            return {"outcome": "timeout", "message": f"over {timeout:g} s", "seconds": process.seconds,
                    "peak_bytes": process.peak_bytes, "match_bytes": None}
        return {"outcome": "crashed", "message": f"exit code {process.returncode}" + (f": {lines[-1]}" if lines else ""),
                "seconds": None, "peak_bytes": process.peak_bytes, "match_bytes": None}


def measure_legacy(model, timeout, memory_limit=None):
    """weightbridge 0.0.4's `adapt` on `model` in its own environment, stopped after `timeout` seconds.

    0.0.4 needs little memory (its subprocess is measured, not limited), so `memory_limit` is unused.
    """
    their, my, truth = checkpoint_pair(model)
    run = run_legacy(their, my, values=False, timeout=timeout)
    record = {"seconds": run.seconds, "peak_bytes": run.peak_bytes, "match_bytes": None, "message": ""}
    if run.ok:
        found = {my_path[0]: ((their_path[0],), "") for my_path, their_path in run.pairs.items()}
        record["outcome"], record["message"] = judge(found, truth)
    elif run.error.startswith(f"weightbridge {LEGACY_VERSION} subprocess timed out"):
        record.update(outcome="timeout", message=f"over {timeout:g} s")
    elif run.error.startswith(f"weightbridge {LEGACY_VERSION} subprocess"):
        record.update(outcome="crashed", message=run.error, seconds=None)
    else:
        record.update(outcome="error", message=run.error)
    return record


MEASURE = {"weightbridge": measure_weightbridge, "weightbridge-0.0.4": measure_legacy}


def run_benchmark(models, tools, timeout, memory_limit=DEFAULT_MEMORY_LIMIT, progress=None):
    """Every model with every tool, in the given order; `{(model name, tool): record}`.

    A tool that timed out or ran out of memory is skipped at every later model (its record says where).
    """
    records, timed_out_at = {}, {}
    for model in models:
        for tool in tools:
            if tool in timed_out_at:
                record = {"outcome": "skipped", "message": timed_out_at[tool],
                          "seconds": None, "peak_bytes": None, "match_bytes": None}
            else:
                record = MEASURE[tool](model, timeout, memory_limit)
                if record["outcome"] in ("timeout", "out of memory"):
                    timed_out_at[tool] = f"{record['outcome']} at {model.name}"
            records[model.name, tool] = record
            if progress:
                progress(model, tool, record)
    return records


def speedup(legacy, current):
    """0.0.4's seconds over weightbridge's, as text: a lower bound ("> ") when 0.0.4 timed out, an
    upper bound ("< ") when weightbridge did, empty when either has no time or both timed out."""
    if not (_timed(legacy) and _timed(current)):
        return ""
    legacy_out, current_out = legacy["outcome"] == "timeout", current["outcome"] == "timeout"
    if legacy_out and current_out:
        return ""
    bound = "> " if legacy_out else "< " if current_out else ""
    return f"{bound}{legacy['seconds'] / max(current['seconds'], 1e-9):.3g}x"


def _timed(record):
    return record is not None and record["seconds"] is not None and record["outcome"] not in (
        "skipped", "crashed", "out of memory")


def _seconds(record):
    if record is None or record["seconds"] is None:
        return ""
    return f"{record['seconds']:.1f}" if record["seconds"] >= 10 else f"{record['seconds']:.2f}"


def _mib(value):
    return "" if value is None else f"{value / 2**20:.0f}"


def format_table(models, records):
    """One row per model: each tool's outcome, seconds and peak memory, then 0.0.4's seconds over weightbridge's."""
    lines = [
        "| size | tensors | model | weightbridge | seconds | peak MiB | match MiB | 0.0.4 | seconds | peak MiB "
        "| 0.0.4 s / weightbridge s |",
        "|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for model in models:
        current = records.get((model.name, "weightbridge"))
        legacy = records.get((model.name, "weightbridge-0.0.4"))
        cells = [model.name, f"{model.tensors:,}", model.description]
        for record, with_match in ((current, True), (legacy, False)):
            cells += [_outcome_cell(record), _seconds(record), _mib(record and record["peak_bytes"])]
            if with_match:
                cells.append(_mib(record and record["match_bytes"]))
        cells.append(speedup(legacy, current))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _outcome_cell(record):
    if record is None:
        return "not run"
    if record["outcome"] in ("timeout", "out of memory", "skipped", "crashed"):
        return f"{record['outcome']} ({_one_line(record['message'], 60)})"
    return record["outcome"]


def _one_line(text, limit):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_messages(models, records):
    """The errors, crashes and first wrong pairs of the table, one line each."""
    lines = []
    for model in models:
        for tool in TOOLS:
            record = records.get((model.name, tool))
            if record and record["outcome"].startswith(("error", "crashed", "wrong")):
                lines.append(f"- {model.name}, {tool}: {_one_line(record['message'], 400)}")
    return "\n".join(lines)


def format_section(models, records, timeout, memory_limit, command):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"Generated {now} by `{command}` on {os.cpu_count()} cores, {timeout:g} s timeout per tool and size, "
        f"weightbridge limited to {memory_limit / 2**30:g} GiB. "
        + versions_line(("numpy", "networkx", "ortools", "einx")),
        "Synthetic DeepSeek-V3/Mixtral-style mixtures of experts, shape-only on both sides (no tensor data): "
        "transformers names into the original release's names, one to one, the true mapping known by "
        "construction; an outcome is correct only when every tensor gets its true partner as it is. "
        "Seconds are spent inside `weightbridge.match` or 0.0.4's `adapt`; peak MiB is the peak resident "
        "memory of the tool's whole process (interpreter and imports included), match MiB how far "
        "matching raised it. A tool that times out or runs out of memory is not run at the larger sizes (`python -m benchmarks.scale`, "
        "see its docstring).",
        format_table(models, records),
        f"Targets (issue 5): {TARGETS}.",
    ]
    messages = format_messages(models, records)
    if messages:
        parts.append(messages)
    return "\n\n".join(parts)


def print_progress(model, tool, record):
    print(f"{model.name} ({model.tensors:,} tensors) | {tool}: {record['outcome']} {_seconds(record)} s "
          f"{_mib(record['peak_bytes'])} MiB {_one_line(record['message'], 200)}".rstrip(),
          file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=list(SIZES.values()),
                        help=f"sizes by name ({', '.join(SIZES)}) or as LAYERSxDENSExEXPERTS")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per tool and size")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT / 2**30,
                        help="GiB weightbridge's process may allocate")
    parser.add_argument("--output", default=RESULTS_PATH, help="markdown file whose scale section is replaced")
    parser.add_argument("--run-one", nargs=3, metavar=("SIZE", "OUTPUT", "BYTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        size, output_path, memory_limit = args.run_one
        # A matcher that grows quadratically fails with MemoryError instead of taking a shared machine's memory.
        resource.setrlimit(resource.RLIMIT_DATA, (int(memory_limit), int(memory_limit)))
        run_weightbridge_child(size, output_path, int(memory_limit))
        return
    models = sorted(args.sizes, key=lambda model: model.tensors)
    records = run_benchmark(models, args.tools, args.timeout, int(args.memory_limit * 2**30), progress=print_progress)
    command = "python -m benchmarks.scale" + "".join(f" {arg}" for arg in (sys.argv[1:] if argv is None else argv))
    section = format_section(models, records, args.timeout, int(args.memory_limit * 2**30), command)
    print(section)
    write_section(args.output, SECTION, section)
    print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
