"""Throughput and peak memory of `weightbridge convert` against a plain safetensors load + save.

A synthetic Llama-style checkpoint (bfloat16, Hugging Face names, > 2 GB) is converted to the
names of Meta's reference implementation, given as a signature file; once keeping the layout and
once into Flax's kernel layout (every matrix transposed). The floor is `safetensors.numpy`
loading the same file and saving it again: the same bytes read and written, nothing matched.
A plain file copy is shown for scale.
Each measurement runs in a fresh process that reports its own peak RSS (`VmHWM`, not ru_maxrss,
which Linux carries over from the parent that made the checkpoint).

    python -m benchmarks.convert [--layers 24] [--repeats 3] [--keep] [--output benchmarks/RESULTS.md]

Prints a text report, replaces its section of benchmarks/RESULTS.md (the rest of the file stays)
and removes its files.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import ml_dtypes
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "convert"
BF16 = np.dtype(ml_dtypes.bfloat16)
SECTION = "## Streaming conversion"

WIDTH, HIDDEN, VOCAB = 2048, 5632, 32000

# Hugging Face name -> (Meta name, Flax name, whether the weight is a matrix).
PER_LAYER = {
    "self_attn.q_proj.weight": ("attention.wq.weight", "attention/query/kernel", True),
    "self_attn.k_proj.weight": ("attention.wk.weight", "attention/key/kernel", True),
    "self_attn.v_proj.weight": ("attention.wv.weight", "attention/value/kernel", True),
    "self_attn.o_proj.weight": ("attention.wo.weight", "attention/out/kernel", True),
    "mlp.gate_proj.weight": ("feed_forward.w1.weight", "mlp/gate/kernel", True),
    "mlp.up_proj.weight": ("feed_forward.w3.weight", "mlp/up/kernel", True),
    "mlp.down_proj.weight": ("feed_forward.w2.weight", "mlp/down/kernel", True),
    "input_layernorm.weight": ("attention_norm.weight", "attention_norm/scale", False),
    "post_attention_layernorm.weight": ("ffn_norm.weight", "mlp_norm/scale", False),
}
SHAPES = {
    "self_attn.q_proj.weight": (WIDTH, WIDTH), "self_attn.k_proj.weight": (WIDTH, WIDTH),
    "self_attn.v_proj.weight": (WIDTH, WIDTH), "self_attn.o_proj.weight": (WIDTH, WIDTH),
    "mlp.gate_proj.weight": (HIDDEN, WIDTH), "mlp.up_proj.weight": (HIDDEN, WIDTH),
    "mlp.down_proj.weight": (WIDTH, HIDDEN),
    "input_layernorm.weight": (WIDTH,), "post_attention_layernorm.weight": (WIDTH,),
}
def their_signature(layers: int) -> dict[str, tuple[int, ...]]:
    shapes = {"model.embed_tokens.weight": (VOCAB, WIDTH)}
    for i in range(layers):
        shapes.update({f"model.layers.{i}.{name}": shape for name, shape in SHAPES.items()})
    shapes["model.norm.weight"] = (WIDTH,)
    shapes["lm_head.weight"] = (VOCAB, WIDTH)
    return shapes


def my_signature(layers: int, convention: str) -> dict[str, tuple[int, ...]]:
    flax = convention == "flax"
    shapes = {("embed/embedding" if flax else "tok_embeddings.weight"): (VOCAB, WIDTH)}
    for i in range(layers):
        for name, (meta, flax_name, matrix) in PER_LAYER.items():
            shape = SHAPES[name][::-1] if flax and matrix else SHAPES[name]
            shapes[f"layers_{i}/{flax_name}" if flax else f"layers.{i}.{meta}"] = shape
    shapes["final_norm/scale" if flax else "norm.weight"] = (WIDTH,)
    shapes["lm_head/kernel" if flax else "output.weight"] = (WIDTH, VOCAB) if flax else (VOCAB, WIDTH)
    return shapes


def make_checkpoint(path: Path, layers: int) -> int:
    """Random finite bfloat16 weights, written tensor by tensor (never all in memory)."""
    from weightbridge._convert import write_safetensors
    from weightbridge._readers import TensorSignature

    shapes = their_signature(layers)
    rng = np.random.default_rng(0)

    def tensors():
        for name, shape in shapes.items():
            # Exponent bits of values in [1/4, 4): finite, no NaN, cheap to draw.
            bits = rng.integers(0x3E80, 0x4080, size=shape, dtype=np.uint16)
            yield name, bits.view(BF16)

    like = {name: TensorSignature(shape, BF16) for name, shape in shapes.items()}
    write_safetensors(tensors(), like, path)
    return sum(t.nbytes for t in like.values())


def child(task: str, their: str, like: str, out: str, convention: str) -> None:
    """One measurement in this fresh process; prints JSON with seconds and peak RSS."""
    import weightbridge  # noqa: F401  (import cost is not part of the measurement)
    from safetensors.numpy import load_file, save_file

    from weightbridge._convert import _separator, write_safetensors
    from weightbridge._match import match
    from weightbridge._readers import load_lazy

    from benchmarks.legacy import peak_resident_bytes

    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_after_imports = peak_resident_bytes()
    cpu_after_imports = usage.ru_utime + usage.ru_stime
    result = {}
    start = time.perf_counter()
    if task == "copy":
        shutil.copyfile(their, out)
    elif task == "floor":
        save_file(load_file(their), out)
    else:
        their_tensors, my_tensors = load_lazy(their), load_lazy(like)
        mapping = match(their_tensors, my_tensors, in_separator=_separator(their_tensors),
                        out_separator=_separator(my_tensors),
                        in_format="pytorch", out_format="flax" if convention == "flax" else "pytorch")
        result["match_seconds"] = time.perf_counter() - start
        write_safetensors(mapping.iter_apply(their_tensors), my_tensors, out)
    result["seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime - cpu_after_imports
    result["peak_rss"] = peak_resident_bytes()
    result["rss_after_imports"] = rss_after_imports
    print(json.dumps(result))


def measure(task: str, their: Path, like: Path, out: Path, convention: str) -> dict:
    if out.exists():
        out.unlink()
    command = [sys.executable, __file__, "--child", task, str(their), str(like), str(out), convention]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise SystemExit(f"{task} failed:\n{completed.stderr}")
    result = json.loads(completed.stdout.splitlines()[-1])
    out.unlink()
    return result


def check_conversion(their: Path, like: Path, out: Path, convention: str) -> None:
    """The converted file holds their bytes under my names (transposed for Flax), spot-checked."""
    from weightbridge._readers import load_lazy

    measure_task = [sys.executable, __file__, "--child", "convert", str(their), str(like),
                    str(out), convention]
    subprocess.run(measure_task, check=True, capture_output=True, cwd=ROOT)
    converted, source = load_lazy(out), load_lazy(their)
    pairs = {"meta": [("layers.3.attention.wk.weight", "model.layers.3.self_attn.k_proj.weight"),
                      ("layers.3.feed_forward.w1.weight", "model.layers.3.mlp.gate_proj.weight")],
             "flax": [("layers_3/attention/key/kernel", "model.layers.3.self_attn.k_proj.weight"),
                      ("layers_3/mlp/gate/kernel", "model.layers.3.mlp.gate_proj.weight")]}
    for my_name, their_name in pairs[convention]:
        expected = np.asarray(source[their_name])
        expected = expected.T if convention == "flax" else expected
        if np.asarray(converted[my_name]).tobytes() != np.ascontiguousarray(expected).tobytes():
            raise SystemExit(f"{my_name} is not {their_name}")
    out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24, help="transformer blocks (24: 2.7 GB)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; best kept")
    parser.add_argument("--keep", action="store_true", help="keep the files in benchmarks/.work")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"),
                        help="markdown file whose conversion section is replaced")
    arguments = parser.parse_args()

    from weightbridge._readers import TensorSignature, save_signature

    WORK.mkdir(parents=True, exist_ok=True)
    their, out = WORK / "their.safetensors", WORK / "out.safetensors"
    try:
        start = time.perf_counter()
        total = make_checkpoint(their, arguments.layers)
        print(f"checkpoint: {arguments.layers} layers, {len(their_signature(arguments.layers))} "
              f"tensors, {total / 1e9:.2f} GB bfloat16, made in {time.perf_counter() - start:.1f} s")
        likes = {}
        for convention in ("meta", "flax"):
            likes[convention] = WORK / f"my_{convention}.json"
            save_signature({name: TensorSignature(shape, BF16) for name, shape
                            in my_signature(arguments.layers, convention).items()},
                           likes[convention])
            check_conversion(their, likes[convention], out, convention)

        rows = []
        for label, task, convention in [("safetensors load_file + save_file (floor)", "floor", "meta"),
                                        ("file copy (bytes only, for scale)", "copy", "meta"),
                                        ("weightbridge convert, rename only", "convert", "meta"),
                                        ("weightbridge convert, to Flax layout (transpose)",
                                         "convert", "flax")]:
            runs = [measure(task, their, likes[convention], out, convention)
                    for _ in range(arguments.repeats)]
            best = min(runs, key=lambda run: run["seconds"])
            best["peak_rss"] = max(run["peak_rss"] for run in runs)
            best["cpu_seconds"] = min(run["cpu_seconds"] for run in runs)
            rows.append((label, best))
        report(rows, total, arguments)
    finally:
        if not arguments.keep:
            shutil.rmtree(WORK, ignore_errors=True)


def report(rows, total: int, arguments) -> None:
    floor = rows[0][1]["seconds"]
    print()
    print(f"{'':50} {'seconds':>8} {'GB/s':>6} {'x floor':>8} {'CPU s':>6} {'peak RSS':>9} "
          f"{'RSS after imports':>18}")
    for label, result in rows:
        print(f"{label:50} {result['seconds']:8.2f} {total / result['seconds'] / 1e9:6.2f} "
              f"{result['seconds'] / floor:8.2f} {result['cpu_seconds']:6.2f} "
              f"{result['peak_rss'] / 1e9:7.2f}GB {result['rss_after_imports'] / 1e9:16.2f}GB")
    for label, result in rows[2:]:
        print(f"  {label}: matching took {result['match_seconds']:.2f} s of {result['seconds']:.2f} s")

    from benchmarks.results import write_section

    section = format_section(rows, total, arguments)
    print(f"\n{SECTION}\n\n{section}")
    write_section(arguments.output, SECTION, section)
    print(f"\nwrote {arguments.output}", file=sys.stderr)


def format_section(rows, total: int, arguments) -> str:
    """The RESULTS.md section: the setup, then one table row per measurement."""
    from benchmarks.results import versions_line

    floor = rows[0][1]["seconds"]
    largest = VOCAB * WIDTH * BF16.itemsize
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Generated {now} by `python -m benchmarks.convert --layers {arguments.layers} --repeats "
        f"{arguments.repeats}` on {platform.machine()}, {os.cpu_count()} cores. "
        + versions_line(("numpy", "safetensors", "ml_dtypes", "einx")),
        "",
        f"Synthetic Llama-style checkpoint: {arguments.layers} layers, "
        f"{len(their_signature(arguments.layers))} tensors, {total / 1e9:.2f} GB bfloat16 "
        f"(largest tensor {largest / 1e6:.0f} MB), Hugging Face names converted to Meta's names "
        "and to a Flax layout given as signature files. The floor is a plain safetensors "
        "`load_file` + `save_file` of the same file: the same bytes read and written, nothing matched. "
        f"Best of {arguments.repeats} runs, each in a fresh process, file in the page cache; "
        "× floor is seconds over the floor's seconds, peak RSS the process's peak resident memory.",
        "",
        "| | seconds | GB/s | × floor | CPU seconds | peak RSS | of which imports |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, result in rows:
        lines.append(f"| {label} | {result['seconds']:.2f} | {total / result['seconds'] / 1e9:.2f} | "
                     f"{result['seconds'] / floor:.2f} | {result['cpu_seconds']:.2f} | "
                     f"{result['peak_rss'] / 1e9:.2f} GB | {result['rss_after_imports'] / 1e9:.2f} GB |")
    lines.append("")
    lines += [f"- {label}: matching took {result['match_seconds']:.2f} s of {result['seconds']:.2f} s"
              for label, result in rows[2:]]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(*sys.argv[2:])
    else:
        sys.path.insert(0, str(ROOT))
        main()
