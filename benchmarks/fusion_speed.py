"""Does looking for fused weights slow down checkpoints that have none? Times `weightbridge.match` on
non-fused signatures with the code before fused weights existed and with the current code, in one run.

    python -m benchmarks.fusion_speed [--repeat 3] [--rounds 3] [--before fe1b266] [--output benchmarks/RESULTS.md]

The signatures (names, shapes, dtypes; no tensor data) of non-fused zoo pairs and of a synthetic
48-layer transformer are written to benchmarks/.work/fusion-speed/signatures.json. The code of the
`--before` commit is exported there with `git archive`; each version then runs in its own
subprocesses (taking turns, `--rounds` each), which import weightbridge from their own folder;
the best of all timings per signature and version is kept. The table shows both and their ratio
(after / before).
"""

import argparse
import datetime
import io
import json
import os
import subprocess
import sys
import tarfile
import time

from benchmarks.results import RESULTS_PATH, versions_line, write_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "benchmarks", ".work", "fusion-speed")
# Zoo pairs without fused weights that map without hints.
PAIRS = (
    "resnet50: torchvision -> timm",
    "resnet50: transformers -> timm",
    "resnext50: torchvision -> timm",
    "vit: torchvision -> timm",
    "mobilenetv2: torchvision -> timm",
    "efficientnet_b0: torchvision -> timm",
)


def _flat_signature(tree):
    from weightbridge._leaves import infer_separator, read_leaves

    separator = infer_separator(tree, "their")
    leaves, _, _ = read_leaves(tree, "their", separator)
    return {"separator": separator, "leaves": [[leaf.name, list(leaf.shape), leaf.dtype] for leaf in leaves]}


def synthetic_transformer(layers=48, width=64):
    """A pre-norm transformer named two ways, q, k, v kept apart on both sides (no fusion)."""
    their, my = [], []
    for l in range(layers):
        for name, shape in (("q_proj", (width, width)), ("k_proj", (width, width)), ("v_proj", (width, width)),
                            ("o_proj", (width, width)), ("up_proj", (4 * width, width)), ("down_proj", (width, 4 * width))):
            their.append([f"model.layers.{l}.{name}.weight", list(shape), "float32"])
            my.append([f"blocks/{l}/{name.replace('_proj', '')}/kernel", list(shape[::-1]), "float32"])
        for norm in ("input_layernorm", "post_attention_layernorm"):
            their.append([f"model.layers.{l}.{norm}.weight", [width], "float32"])
        my.append([f"blocks/{l}/norm1/scale", [width], "float32"])
        my.append([f"blocks/{l}/norm2/scale", [width], "float32"])
    return {"separator": "."}, their, {"separator": "/"}, my


def write_signatures(path):
    import torch

    torch.set_num_threads(1)
    from benchmarks.zoo.catalog import PAIRS as ZOO

    signatures = {}
    for name in PAIRS:
        pair = ZOO[name]
        signatures[name] = {"their": _flat_signature(pair.build_source().weights()),
                            "my": _flat_signature(pair.build_target().weights())}
    their_options, their, my_options, my = synthetic_transformer()
    signatures["synthetic 48-layer transformer: torch -> flax names"] = {
        "their": dict(their_options, leaves=their), "my": dict(my_options, leaves=my)}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(signatures, f)


def export_before(commit, folder):
    """The `weightbridge` and `solver` packages of `commit`, written under `folder`."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "weightbridge", "solver"], check=True, capture_output=True).stdout
    os.makedirs(folder, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


class ShapeOnly:
    """A leaf with a shape and a dtype and no data: what matching reads."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype


def time_signatures(path, repeat):
    """Run inside the subprocess: best-of-`repeat` seconds of match per signature, as JSON on stdout."""
    import weightbridge

    with open(path) as f:
        signatures = json.load(f)
    results = {"weightbridge": os.path.dirname(weightbridge.__file__)}
    for name, sides in signatures.items():
        their = {n: ShapeOnly(s, d) for n, s, d in sides["their"]["leaves"]}
        my = {n: ShapeOnly(s, d) for n, s, d in sides["my"]["leaves"]}
        times, outcome = [], "ok"
        for _ in range(repeat):
            start = time.perf_counter()
            try:
                weightbridge.match(their, my, in_separator=sides["their"]["separator"], out_separator=sides["my"]["separator"])
            except ValueError as error:
                outcome = type(error).__name__
            times.append(time.perf_counter() - start)
        results[name] = {"seconds": min(times), "outcome": outcome, "leaves": len(their) + len(my)}
    print(json.dumps(results))


def run_version(code_folder, path, repeat):
    env = dict(os.environ, PYTHONPATH=code_folder, OMP_NUM_THREADS="1")
    command = [sys.executable, "-c",
               f"import sys; sys.path.insert(0, {code_folder!r}); sys.path.insert(1, {ROOT!r}); "
               f"from benchmarks.fusion_speed import time_signatures; time_signatures({path!r}, {repeat})"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=code_folder).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings per signature in one subprocess")
    parser.add_argument("--rounds", type=int, default=3, help="subprocesses per version, taking turns")
    parser.add_argument("--before", default="fe1b266")
    parser.add_argument("--output", default=RESULTS_PATH, help="markdown file whose section this run replaces ('' to only print)")
    arguments = parser.parse_args()
    path = os.path.join(WORK, "signatures.json")
    write_signatures(path)
    before_folder = os.path.join(WORK, f"before-{arguments.before}")
    export_before(arguments.before, before_folder)
    # The machine is shared: the two versions take turns, and each keeps its best time over all rounds.
    before, after = {}, {}
    for _ in range(arguments.rounds):
        for folder, best in ((before_folder, before), (ROOT, after)):
            result = run_version(folder, path, arguments.repeat)
            assert result.pop("weightbridge").startswith(folder)
            for name, timing in result.items():
                if name not in best or timing["seconds"] < best[name]["seconds"]:
                    best[name] = timing
    rows = [(name, result["leaves"], before[name]["seconds"], result["seconds"], f"{before[name]['outcome']} -> {result['outcome']}")
            for name, result in after.items()]
    total_before, total_after = sum(r[2] for r in rows), sum(r[3] for r in rows)
    width = max(len(name) for name in after)
    print(f"{'signature':<{width}}  {'leaves':>6}  {'before s':>8}  {'after s':>8}  {'ratio':>5}  outcome")
    for name, leaves, old, new, outcome in rows:
        print(f"{name:<{width}}  {leaves:>6}  {old:>8.3f}  {new:>8.3f}  {new / old:>5.2f}  {outcome}")
    print(f"{'total':<{width}}  {'':>6}  {total_before:>8.3f}  {total_after:>8.3f}  {total_after / total_before:>5.2f}")
    if arguments.output:
        write_section(arguments.output, SECTION, format_section(rows, arguments))
        print(f"wrote {arguments.output}")


SECTION = "## Fused weights: the price for checkpoints without them"


def format_section(rows, arguments):
    """The timings as a RESULTS.md section: before and after per signature, and their ratio."""
    lines = [
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.fusion_speed "
        f"--rounds {arguments.rounds} --repeat {arguments.repeat}` on 2 cores. {versions_line(('numpy', 'einx', 'ortools', 'networkx'))}",
        "",
        f"`weightbridge.match` on signatures without fused weights, with the code of commit {arguments.before} (before fused "
        "weights existed) and with this repository's, taking turns in subprocesses; best of all timings per signature.",
        "",
        "| signature | leaves | before s | after s | after / before | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [f"| {name} | {leaves} | {old:.3f} | {new:.3f} | {new / old:.2f} | {outcome} |" for name, leaves, old, new, outcome in rows]
    total_before, total_after = sum(r[2] for r in rows), sum(r[3] for r in rows)
    lines.append(f"| total | | {total_before:.3f} | {total_after:.3f} | {total_after / total_before:.2f} | |")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
