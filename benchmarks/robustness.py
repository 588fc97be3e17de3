"""Correct or loud under perturbation: the zoo pairs weightbridge maps correctly, changed the way real
checkpoints differ, must still map correctly or fail with a clear weightbridge error.

    python -m benchmarks.robustness                          # the default pairs, every perturbation
    python -m benchmarks.robustness --all-pairs              # every zoo pair
    python -m benchmarks.robustness --pairs vit --perturbations sorted "drop their"
    python -m benchmarks.robustness --timeout 60 --output benchmarks/RESULTS.md

Each pair is first mapped unperturbed (with `ignore_unmatched_inputs=True` where it needs it, e.g.
DINOv2's mask token) and checked functionally: the target runs on the mapped weights and computes
what the source computes. Only pairs that pass take part; that mapping is the truth. A perturbation
is a pure function on the two flat weight lists that also says, for every perturbed name, which
original name it stands for, so every run is checked against the truth value by value: each weight
the mapping returns must equal, bit for bit, what the unperturbed mapping put there. Where some
value differs and the models exist (nothing was dropped), the target is loaded with the renamed-back
weights and run as well, so an equivalent mapping (a tied weight taken under its other name) still
counts as correct. Where weights were dropped, the run passes `ignore_unmatched_*=True` and is correct
when every weight it returns is right and the weights whose partner is gone are reported unmatched.

Outcomes: correct; error (a weightbridge error: its class and first line); wrong; crash (any other
exception); timeout (the run did not end within `--timeout` seconds); n/a (the perturbation does not
apply to the pair, e.g. no numbered blocks). Each pair runs in its own subprocess; a run that times
out kills it and the pair resumes with its next perturbation in a fresh one.
"""

import argparse
import dataclasses
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Mapping

from benchmarks.results import REPOSITORY, RESULTS_PATH, versions_line, write_section

HEADING = "## Robustness: correct or loud under perturbation"
OUTCOMES = ("correct", "error", "wrong", "crash", "timeout", "n/a")
SEED = 0
VERSIONED_PACKAGES = ("torch", "timm", "transformers", "jax", "flax", "keras", "numpy", "einx", "ortools")


# ---------------------------------------------------------------------------- the case a run maps


@dataclasses.dataclass(frozen=True)
class Case:
    """Two flat weight lists, in the order they are handed over, and what each name stands for.

    `their_origin` / `my_origin` map every (perturbed) name to the original name; `partnerless` holds
    the original `my` names whose partner was dropped; `options` are passed to `weightbridge.match`.
    """

    their: tuple
    my: tuple
    their_origin: dict
    my_origin: dict
    partnerless: frozenset = frozenset()
    options: dict = dataclasses.field(default_factory=dict)
    dropped: bool = False


class NotApplicable(Exception):
    """The perturbation has nothing to change in this pair."""


def initial_case(their, my, options):
    return Case(tuple(their), tuple(my), {n: n for n, _ in their}, {n: n for n, _ in my}, options=dict(options))


def _renamed(items, origin, rename):
    new_items = [(rename(name, value), value) for name, value in items]
    names = [name for name, _ in new_items]
    if len(set(names)) != len(names):
        raise NotApplicable("the renaming makes two names equal")
    if names == [name for name, _ in items]:
        raise NotApplicable("the renaming changes no name")
    return tuple(new_items), {new: origin[old] for (new, _), (old, _) in zip(new_items, items)}


def rename_their(case, rename):
    their, origin = _renamed(case.their, case.their_origin, rename)
    return dataclasses.replace(case, their=their, their_origin=origin)


def rename_my(case, rename):
    my, origin = _renamed(case.my, case.my_origin, rename)
    return dataclasses.replace(case, my=my, my_origin=origin)


def separator_of(names):
    """'.' or '/': whichever joins more of the names' modules."""
    dots = sum(name.count(".") for name in names)
    slashes = sum(name.count("/") for name in names)
    return "/" if slashes > dots else "."


def _names(items):
    return [name for name, _ in items]


# ---------------------------------------------------------------------------- blocks: the numbered modules


def numbered_blocks(names):
    """The blocks of the longest numbered list: (list prefix, {index: [names]}), or None.

    `encoder.layer.3.attention.query.weight` is in block 3 of the list `encoder.layer`; the list with
    the most weights under it is taken (nested lists count under their outermost number).
    """
    separator = separator_of(names)
    lists = {}
    for name in names:
        parts = name.split(separator)
        for k, part in enumerate(parts[:-1]):
            if part.isdigit():
                lists.setdefault(separator.join(parts[:k]), {}).setdefault(int(part), []).append(name)
                break
    lists = {prefix: blocks for prefix, blocks in lists.items() if len(blocks) >= 2}
    if not lists:
        return None
    prefix = max(lists, key=lambda p: (sum(len(b) for b in lists[p].values()), p))
    return prefix, lists[prefix]


def last_block(items):
    found = numbered_blocks(_names(items))
    if found is None:
        raise NotApplicable("no numbered blocks")
    _, blocks = found
    return set(blocks[max(blocks)])


# ---------------------------------------------------------------------------- perturbations


def sort_their(case):
    """Keys in alphabetical order, as safetensors and .npz files hand them over."""
    return dataclasses.replace(case, their=tuple(sorted(case.their, key=lambda item: item[0])))


def shuffle_their(case):
    their = list(case.their)
    random.Random(SEED).shuffle(their)
    return dataclasses.replace(case, their=tuple(their))


def change_separator(case):
    old = separator_of(_names(case.their))
    new = "/" if old == "." else "."
    return rename_their(case, lambda name, _: name.replace(old, new))


def _shift_indices(items):
    separator = separator_of(_names(items))

    def rename(name, _):
        return separator.join(str(int(p) + 1) if p.isdigit() else p for p in name.split(separator))

    return rename


def shift_their_indices(case):
    """Every list index one higher: 1-based numbering."""
    return rename_their(case, _shift_indices(case.their))


def shift_my_indices(case):
    return rename_my(case, _shift_indices(case.my))


_FLAX_LEAF_NAMES = {"running_mean": "mean", "running_var": "var"}


def _flax_name(name, value, separator):
    """`blocks.0.attn.qkv.weight` -> `blocks_0/attn/qkv/kernel`: numbers joined to their list, Flax's
    parameter names (kernel for weights of two or more axes, scale for one-axis weights)."""
    parts = name.split(separator)
    joined = []
    for part in parts:
        if part.isdigit() and joined:
            joined[-1] = f"{joined[-1]}_{part}"
        else:
            joined.append(part)
    leaf = joined[-1]
    if leaf == "weight":
        leaf = "kernel" if len(value.shape) >= 2 else "scale"
    joined[-1] = _FLAX_LEAF_NAMES.get(leaf, leaf)
    return "/".join(joined)


def _flax_layout(name, value, separator):
    """A kernel of the PyTorch layout (o i k...) in the Flax one (k... i o), as numpy."""
    array = to_numpy(value)
    if name.split(separator)[-1] == "weight" and array.ndim >= 2:
        return array.transpose(tuple(range(2, array.ndim)) + (1, 0)).copy()
    return array


def flax_style(case):
    """Their names and kernel layouts as a Flax checkpoint holds them."""
    separator = separator_of(_names(case.their))
    their = tuple((name, _flax_layout(name, value, separator)) for name, value in case.their)
    case = dataclasses.replace(case, their=their)
    return rename_their(case, lambda name, value: _flax_name(name, value, separator))


def flax_style_with_formats(case, *, my_format):
    """As `flax_style`, and the layouts of both sides passed as in_format= and out_format=."""
    if my_format is None:
        raise NotApplicable("the layout of one side's kernels is no single format")
    case = flax_style(case)
    return dataclasses.replace(case, options=dict(case.options, in_format="flax", out_format=my_format))


def abbreviate(token):
    """`layer_scale` -> `lyr_scl`: each word keeps its first letter and its consonants."""
    return "_".join(word[0] + re.sub(r"[aeiou]", "", word[1:]) for word in token.split("_") if word)


def abbreviate_one_stage(case):
    """The longest module name that repeats across blocks, abbreviated in the last block only."""
    names = _names(case.their)
    separator = separator_of(names)
    found = numbered_blocks(names)
    if found is None:
        raise NotApplicable("no numbered blocks")
    _, blocks = found
    in_last = set(blocks[max(blocks)])
    in_others = {part for i, members in blocks.items() if i != max(blocks) for n in members for part in n.split(separator)[:-1]}
    tokens = {part for n in in_last for part in n.split(separator)[:-1]
              if not part.isdigit() and part in in_others and abbreviate(part) != part}
    if not tokens:
        raise NotApplicable("no module name in the last block to abbreviate")
    token = max(tokens, key=lambda t: (len(t), t))

    def rename(name, _):
        if name not in in_last:
            return name
        return separator.join(abbreviate(p) if p == token else p for p in name.split(separator))

    return rename_their(case, rename)


def weight_kinds(items):
    """One representative per kind of weight (parameter name and number of axes): the middle one of its kind."""
    separator = separator_of(_names(items))
    kinds = {}
    for name, value in items:
        kinds.setdefault((name.split(separator)[-1], len(value.shape)), []).append(name)
    return {kind: members[len(members) // 2] for kind, members in sorted(kinds.items())}


def _same_values(a, b):
    import numpy as np

    a, b = to_numpy(a), to_numpy(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


def drop_their(case, names, baseline_pairs):
    """`their` without `names`; the `my` weights made from them have no partner left (unless a tied
    copy of the same tensor stays under another name)."""
    kept = tuple((n, v) for n, v in case.their if n not in names)
    if len(kept) == len(case.their):
        raise NotApplicable("nothing to drop")
    lost = {case.their_origin[n] for n, v in case.their
            if n in names and not any(_same_values(v, w) for _, w in kept if tuple(w.shape) == tuple(v.shape))}
    partnerless = {my for my, theirs in baseline_pairs.items() if lost & set(theirs)}
    return dataclasses.replace(
        case, their=kept, partnerless=case.partnerless | partnerless, dropped=True,
        options=dict(case.options, ignore_unmatched_inputs=True, ignore_unmatched_outputs=True),
    )


def drop_my(case, names):
    kept = tuple((n, v) for n, v in case.my if n not in names)
    if len(kept) == len(case.my):
        raise NotApplicable("nothing to drop")
    return dataclasses.replace(
        case, my=kept, dropped=True,
        options=dict(case.options, ignore_unmatched_inputs=True, ignore_unmatched_outputs=True),
    )


def near_miss_their(case, baseline_pairs):
    """A block fewer in `their`: every weight of its last block dropped."""
    return drop_their(case, last_block(case.their), baseline_pairs)


def near_miss_my(case):
    """A block more in `their`: every weight of `my`'s last block dropped."""
    return drop_my(case, last_block(case.my))


def my_last_block_first(case):
    """`my` lists its last block before its first one; names unchanged."""
    moved = last_block(case.my)
    _, blocks = numbered_blocks(_names(case.my))
    in_blocks = {n for members in blocks.values() for n in members}
    first = next(k for k, (n, _) in enumerate(case.my) if n in in_blocks)
    rest = [item for item in case.my if item[0] not in moved]
    my = rest[:first] + [item for item in case.my if item[0] in moved] + rest[first:]
    return dataclasses.replace(case, my=tuple(my))


def perturbations(pair_name, case, baseline_pairs, my_format):
    """Every perturbation of one pair: name -> function(case) -> case."""
    single = {
        "sorted": sort_their,
        "shuffled": shuffle_their,
        "separator": change_separator,
        "their indices +1": shift_their_indices,
        "my indices +1": shift_my_indices,
        "flax names and layouts": flax_style,
        "flax names and layouts, with formats": lambda c: flax_style_with_formats(c, my_format=my_format),
        "abbreviated in one stage": abbreviate_one_stage,
        "my last block first": my_last_block_first,
        "near miss: their block fewer": lambda c: near_miss_their(c, baseline_pairs),
        "near miss: their block more": near_miss_my,
    }
    for (leaf, rank), name in weight_kinds(case.their).items():
        single[f"drop their {leaf} ({rank}-d)"] = lambda c, name=name: drop_their(c, {name}, baseline_pairs)
    for (leaf, rank), name in weight_kinds(case.my).items():
        single[f"drop my {leaf} ({rank}-d)"] = lambda c, name=name: drop_my(c, {name})
    combined = {}
    for first, second in COMBINATIONS:
        combined[f"{first} + {second}"] = lambda c, f=single[first], s=single[second]: s(f(c))
    return {**single, **combined}


COMBINATIONS = (
    ("sorted", "separator"),
    ("sorted", "their indices +1"),
    ("sorted", "flax names and layouts"),
    ("sorted", "flax names and layouts, with formats"),
    ("sorted", "abbreviated in one stage"),
    ("sorted", "my last block first"),
    ("sorted", "near miss: their block fewer"),
    ("shuffled", "my indices +1"),
    ("shuffled", "abbreviated in one stage"),
    ("shuffled", "near miss: their block more"),
)


# ---------------------------------------------------------------------------- trees


def to_numpy(value):
    import numpy as np

    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def flatten_tree(tree, path=()):
    """[(path, leaf)] of a tree of Mappings."""
    if isinstance(tree, Mapping):
        return [item for key, value in tree.items() for item in flatten_tree(value, path + (key,))]
    return [(path, tree)]


def flat_name(path):
    return path[0] if len(path) == 1 else "/".join(str(key) for key in path)


def rebuild_tree(paths, values):
    """A tree of dicts with the leaves of `values` (flat name -> value) at `paths` (flat name -> path)."""
    root = {}  # a plain dict: JAX flattens it in sorted order, as it does the model's own tree
    for name, path in paths.items():
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = values[name]
    return root


def my_format_of(pair_name, source, target):
    """The format name of the target's kernels, where the source's are the PyTorch layout; else None."""
    from benchmarks.zoo.pairs import JaxSide, TorchSide

    if not isinstance(source, TorchSide) or pair_name.startswith("gpt2: transformers"):  # Conv1D is (in, out)
        return None
    if isinstance(target, TorchSide):
        return "pytorch"
    if isinstance(target, JaxSide):
        return "flax"
    return None  # keras-hub's attention kernels are (width, heads, head width): no one format


# ---------------------------------------------------------------------------- one run


def first_line(text):
    return (str(text).strip().splitlines() or [""])[0]


def run_case(case, truth, check_functionally):
    """Maps `case` and judges the result against `truth` (original my name -> value, their names)."""
    import numpy as np
    import weightbridge

    their, my = OrderedDict(case.their), OrderedDict(case.my)
    start = time.perf_counter()
    try:
        mapping = weightbridge.match(their, my, **case.options)
        result = mapping.apply(their, my)
    except weightbridge.WeightbridgeError as error:
        return {"outcome": "error", "error": type(error).__name__, "message": first_line(error),
                "seconds": time.perf_counter() - start}
    except Exception as error:  # noqa: BLE001 - any other exception is the finding
        where = traceback.extract_tb(error.__traceback__)[-1:]
        place = f" (at {os.path.relpath(where[0].filename, REPOSITORY)}:{where[0].lineno})" if where else ""
        return {"outcome": "crash", "error": type(error).__name__, "message": first_line(error) + place,
                "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    their_name = {original: name for name, original in case.their_origin.items()}
    wrong = []
    returned = set()
    for pair in mapping.pairs:
        original = case.my_origin[pair.my]
        returned.add(original)
        expected_their = tuple(their_name.get(n, f"{n} (dropped)") for n in truth["pairs"][original])
        got = " + ".join(pair.their)
        if original in case.partnerless:
            wrong.append(f"{pair.my} <- {got} (true partner dropped: {' + '.join(expected_their)})")
        elif not np.array_equal(to_numpy(result[pair.my]).astype(np.float64), truth["values"][original]):
            wrong.append(f"{pair.my} <- {got} (true: {' + '.join(expected_their)}"
                         + (", other transform" if tuple(pair.their) == expected_their else "") + ")")
    left = sorted(set(truth["pairs"]) - returned - case.partnerless)
    record = {"seconds": seconds, "unmatched_beyond_dropped": len(left)}
    if wrong and not case.dropped and check_functionally is not None:
        values = {case.my_origin[name]: value for name, value in result.items()}
        if check_functionally(values):
            return {**record, "outcome": "correct", "message": "equivalent: the target computes the same"}
    if wrong:
        return {**record, "outcome": "wrong", "wrong_pairs": len(wrong), "message": "; ".join(wrong[:3])}
    return {**record, "outcome": "correct"}


# ---------------------------------------------------------------------------- the worker: one pair, many runs


def extra_pairs():
    """Pairs the zoo does not hold: a 7-layer ViT on both sides, whose near misses (6 layers into 7 and
    7 into 6) are the worst case of the issue's measurements."""
    from benchmarks.zoo.catalog import PAIRS
    from benchmarks.zoo.pairs import ZooPair, _image, _timm, _transformers

    base = PAIRS["vit: transformers -> timm"]
    hf_vit = dict(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=7, num_attention_heads=4,
                  intermediate_size=128, layer_norm_eps=1e-6, initializer_range=0.1)
    vit = dict(img_size=32, patch_size=8, embed_dim=64, depth=7, num_heads=4, mlp_ratio=2.0, num_classes=10)
    return {"vit-7: transformers -> timm": ZooPair(
        name="vit-7: transformers -> timm", family=base.family, source=base.source, target=base.target, fast=True,
        notes="vit: transformers -> timm with 7 layers", make_input=_image(32),
        build_source=_transformers("ViTConfig", "ViTForImageClassification", **hf_vit),
        build_target=_timm("vit_tiny_patch16_224", **vit),
    )}


# By default: the zoo's fast pairs, the 7-layer ViT and the slower pairs the examples of issue 11 name;
# every zoo pair takes about three times as long (--all-pairs).
ISSUE_PAIRS = (
    "gpt2: transformers -> torch nn.Linear",
    "dinov2: transformers -> timm",
    "convnext: torchvision -> timm",
    "swin: transformers -> timm",
)

EXTRA_PERTURBATIONS = {"vit-7: transformers -> timm": ("near miss: their block fewer", "near miss: their block more")}


def all_pairs():
    from benchmarks.zoo.catalog import PAIRS

    return {**PAIRS, **extra_pairs()}


def _baseline(pair, source, target):
    """The unperturbed mapping, checked functionally: (case, truth, check) or a reason it is excluded."""
    import numpy as np
    import weightbridge
    from benchmarks.zoo.verify import TOLERANCE, relative_error

    their = [(flat_name(path), leaf) for path, leaf in flatten_tree(source.weights())]
    my_tree = target.weights()
    my_paths = OrderedDict((flat_name(path), path) for path, _ in flatten_tree(my_tree))
    my = [(flat_name(path), leaf.clone() if hasattr(leaf, "clone") else leaf) for path, leaf in flatten_tree(my_tree)]
    inputs = pair.make_input(SEED)
    expected = source.run(inputs)

    def check(values):
        try:
            target.load(rebuild_tree(my_paths, values))
            return relative_error(expected, target.run(inputs)) < TOLERANCE
        except Exception:  # noqa: BLE001 - weights that do not load are not correct
            return False

    last_error = None
    for options in ({}, {"ignore_unmatched_inputs": True}):
        try:
            mapping = weightbridge.match(OrderedDict(their), OrderedDict(my), **options)
        except weightbridge.UnmatchedError as error:
            last_error = error
            continue
        except Exception as error:  # noqa: BLE001
            return f"unperturbed: {type(error).__name__}: {first_line(error)}"
        result = mapping.apply(OrderedDict(their), OrderedDict(my))
        if mapping.unmatched_my or not check(dict(result)):
            return "unperturbed: not correct"
        truth = {"pairs": {p.my: tuple(p.their) for p in mapping.pairs},
                 "values": {p.my: to_numpy(result[p.my]).astype(np.float64) for p in mapping.pairs}}
        return initial_case(their, my, options), truth, check
    return f"unperturbed: {type(last_error).__name__}: {first_line(last_error)}"


def run_worker(pair_name, output_path, spec_path):
    """Writes the pair's selected perturbation names as one JSON line, then one line per run, in order.

    `spec_path` holds {"selection": substrings or null, "done": names to skip (run by an earlier worker)}.
    """
    import torch

    torch.set_num_threads(1)
    with open(spec_path) as f:
        spec = json.load(f)
    pair = all_pairs()[pair_name]
    source, target = pair.build_source(), pair.build_target()
    source.randomize(SEED)
    found = _baseline(pair, source, target)
    with open(output_path, "a") as out:
        if isinstance(found, str):
            out.write(json.dumps({"excluded": found}) + "\n")
            return
        case, truth, check = found
        chosen = perturbations(pair_name, case, truth["pairs"], my_format_of(pair_name, source, target))
        allowed = EXTRA_PERTURBATIONS.get(pair_name)
        names = [n for n in chosen if (allowed is None or n in allowed)
                 and (spec["selection"] is None or any(s in n for s in spec["selection"]))]
        out.write(json.dumps({"names": names}) + "\n")
        out.flush()
        for name in names:
            if name in spec["done"]:
                continue
            try:
                perturbed = chosen[name](case)
            except NotApplicable as reason:
                record = {"outcome": "n/a", "message": str(reason)}
            else:
                record = run_case(perturbed, truth, check)
            out.write(json.dumps({"perturbation": name, **record}) + "\n")
            out.flush()


# ---------------------------------------------------------------------------- the parent: timeouts and resumption


def _kill(process):
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines() if line.strip()]


def run_pair(pair_name, selection, timeout, build_timeout, progress):
    """All runs of one pair: {"pair", "excluded" (a reason or None), "runs": [records]}.

    A worker that gives no new line within `timeout` seconds (plus `build_timeout` for building the
    models and the unperturbed check) is killed; its current run is a timeout (or a crash, if the
    worker died on its own) and a fresh worker resumes after it.
    """
    with tempfile.TemporaryDirectory(prefix="robustness-") as folder:
        log_path = os.path.join(folder, "log.txt")
        runs, names = [], None
        for attempt in itertools.count():
            spec_path = os.path.join(folder, f"spec-{attempt}.json")
            output_path = os.path.join(folder, f"runs-{attempt}.jsonl")
            with open(spec_path, "w") as f:
                json.dump({"selection": selection, "done": [run["perturbation"] for run in runs]}, f)
            with open(log_path, "a") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.robustness", "--worker", pair_name, output_path, spec_path],
                    cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    env={**os.environ, "HF_HUB_OFFLINE": "1"},
                )
            last_progress, seen, allowance = time.perf_counter(), 0, build_timeout + timeout
            while process.poll() is None:
                time.sleep(0.2)
                count = len(_read_lines(output_path))
                if count > seen:
                    # The names line comes after the build and the unperturbed check; each run gets `timeout`.
                    seen, last_progress, allowance = count, time.perf_counter(), timeout
                if time.perf_counter() - last_progress > allowance:
                    _kill(process)
                    break
            lines = _read_lines(output_path)
            if lines and "excluded" in lines[0]:
                return {"pair": pair_name, "excluded": lines[0]["excluded"], "runs": []}
            if not lines:
                reason = "timed out" if process.returncode == -9 else f"exit code {process.returncode}"
                return {"pair": pair_name, "excluded": f"building the models {reason}: {_last_log_line(log_path)}", "runs": []}
            names = lines[0]["names"]
            for line in lines[1:]:
                runs.append(line)
                progress(pair_name, line)
            pending = [n for n in names if n not in {run["perturbation"] for run in runs}]
            if not pending:
                break
            if process.returncode == -9:
                record = {"perturbation": pending[0], "outcome": "timeout", "message": f"no result within {timeout:g} s"}
            else:
                record = {"perturbation": pending[0], "outcome": "crash",
                          "message": f"the worker died (exit code {process.returncode}): {_last_log_line(log_path)}"}
            runs.append(record)
            progress(pair_name, record)
        order = {name: k for k, name in enumerate(names)}
        return {"pair": pair_name, "excluded": None, "runs": sorted(runs, key=lambda run: order[run["perturbation"]])}


def _last_log_line(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ---------------------------------------------------------------------------- report


def _family(perturbation):
    """Drops of single weights are reported together per side; everything else by name."""
    match = re.match(r"^(drop (their|my)) ", perturbation)
    return f"{match.group(1)} (one weight of each kind)" if match and " + " not in perturbation else perturbation


def format_report(results, command, seconds):
    included = [r for r in results if r["excluded"] is None]
    excluded = [r for r in results if r["excluded"] is not None]
    runs = [(r["pair"], run) for r in included for run in r["runs"]]
    families = list(dict.fromkeys(_family(run["perturbation"]) for _, run in runs))
    lines = [
        f"`{command}`, {seconds / 60:.1f} min on {os.cpu_count()} cores, one pair at a time, each in its own "
        "subprocess. " + versions_line(VERSIONED_PACKAGES),
        "",
        f"{len(included)} pairs mapped correctly unperturbed and take part; {len(runs)} runs. A run is correct when "
        "every weight it returns equals what the unperturbed (functionally checked) mapping put there, or the target "
        "computes the same on it; runs that drop weights pass `ignore_unmatched_*=True` and must report the weights "
        "whose partner is gone as unmatched. The target is 0 wrong, 0 crash, 0 timeout.",
        "",
        "| perturbation | " + " | ".join(OUTCOMES) + " | clear errors among the decided | errors seen |",
        "|---|" + "---|" * (len(OUTCOMES) + 2),
    ]
    total = Counter()
    for family in families:
        members = [run for _, run in runs if _family(run["perturbation"]) == family]
        counts = Counter(run["outcome"] for run in members)
        total.update(counts)
        decided = sum(counts[o] for o in ("correct", "error", "wrong"))
        share = f"{counts['error'] / decided:.0%}" if decided else ""
        errors = Counter(run["error"] for run in members if run["outcome"] == "error")
        lines.append(f"| {family} | " + " | ".join(str(counts[o]) for o in OUTCOMES)
                     + f" | {share} | {', '.join(f'{k} {v}' for k, v in errors.most_common())} |")
    decided = sum(total[o] for o in ("correct", "error", "wrong"))
    share = f"{total['error'] / decided:.0%}" if decided else ""
    lines.append("| **all** | " + " | ".join(f"**{total[o]}**" for o in OUTCOMES) + f" | {share} |  |")
    lines += ["", "### Wrong, crashed and timed out runs", ""]
    bad = [(pair, run) for pair, run in runs if run["outcome"] in ("wrong", "crash", "timeout")]
    lines += [f"- {pair} | {run['perturbation']}: **{run['outcome']}**"
              + (f" ({run['wrong_pairs']} weights)" if run.get("wrong_pairs") else "")
              + f": {run.get('error', '') + ': ' if run.get('error') else ''}{run['message']}" for pair, run in bad]
    if not bad:
        lines.append("None.")
    lines += ["", "### Slowest runs", ""]
    slowest = sorted(((pair, run) for pair, run in runs if run.get("seconds") is not None), key=lambda x: -x[1]["seconds"])[:5]
    lines += [f"- {pair} | {run['perturbation']}: {run['seconds']:.2f} s, {run['outcome']}"
              + (f" ({run.get('error')}: {run['message']})" if run["outcome"] == "error" else "") for pair, run in slowest]
    lines += ["", "### Pairs", ""]
    lines += [f"- {r['pair']}: {len(r['runs'])} runs" for r in included]
    lines += [f"- {r['pair']}: excluded ({r['excluded']})" for r in excluded]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.robustness", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", nargs="+", default=None, help="only pairs whose name contains one of these")
    parser.add_argument("--all-pairs", action="store_true", help="every zoo pair, not only the fast ones")
    parser.add_argument("--perturbations", nargs="+", default=None, help="only perturbations whose name contains one of these")
    parser.add_argument("--limit", type=int, default=None, help="at most this many pairs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--build-timeout", type=float, default=180.0, help="seconds to build a pair's models")
    parser.add_argument("--output", default=RESULTS_PATH, help="the RESULTS.md to write the section into ('' to only print)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(*args.worker)
        return

    pairs = all_pairs()
    names = [n for n, p in pairs.items() if (args.all_pairs or args.pairs or p.fast or n in ISSUE_PAIRS)
             and (args.pairs is None or any(s in n for s in args.pairs))][: args.limit]

    def progress(pair_name, record):
        print(f"{pair_name} | {record['perturbation']}: {record['outcome']} {record.get('error', '')} "
              f"{record.get('message', '')[:160]}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = [run_pair(name, args.perturbations, args.timeout, args.build_timeout, progress) for name in names]
    command = "python -m benchmarks.robustness" + "".join(f" {a}" if " " not in a else f" '{a}'" for a in (argv or sys.argv[1:]))
    report = format_report(results, command, time.perf_counter() - start)
    print(report)
    if args.output:
        write_section(args.output, HEADING, report)
        print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
