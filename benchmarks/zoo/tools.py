"""The tools the zoo benchmark compares, each an `adapt_fn(their, my, hints=())`.

- `weightbridge`: this repository's `weightbridge.adapt`, first with the hints it is given;
  when it raises `AmbiguityError`, again with the hints that error proposes, as a user would
  (and without a hint a later round made unnecessary, where a `HintError` says so).
  The hints it needed are recorded in `hints_needed`, the error the first call raised (the one a
  user meets) in `zero_hint_error`.
- `weightbridge-0.0.4`: the original release, run in its own environment by `benchmarks.legacy`.
- `timm-remap`: timm's `remap_state_dict`, which pairs the two state dicts by enumeration order
  and reshapes where element counts agree (what `load_checkpoint(..., remap=True)` does).
- `name-identity`: copy every leaf of `their` whose name and shape equal one of `my`, keep `my`'s
  value everywhere else (what `load_state_dict(strict=False)` achieves after dropping
  mismatched shapes).

The libraries are imported with this module, so a tool's seconds are its work, not imports.
A tool that cannot be applied to a pair of trees at all (timm's remap needs two flat torch
state dicts) raises `NotApplicable`; a tool's own loud refusal (0.0.4's failed pairing, timm's
size assertion) is raised as `ToolRefused`, a `ValueError`, so it counts as a clear error.

```python
from benchmarks.zoo.tools import make_tool

tool = make_tool("weightbridge")
new_my = tool(their_state_dict, my_state_dict)
tool.hints_needed, tool.seconds
```
"""

import time
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch
import weightbridge
from timm.models._helpers import remap_state_dict

from benchmarks.legacy import ResidentPeak, flatten, leaf_values, run_legacy


class NotApplicable(TypeError):
    """The tool cannot be applied to trees of this kind."""


class ToolRefused(ValueError):
    """The tool itself refused the pair loudly; carries its message."""


class Tool:
    """Base of the compared tools: measures the calls and keeps what they learned.

    Attributes after a call:
        seconds: time spent inside the tool, over all its calls (for a tool that runs in a
            subprocess, the time it measured there itself).
        peak_rise_bytes: how far the calls raised this process's resident memory above what it held
            when they began (see `benchmarks.legacy.ResidentPeak`; None where that cannot be
            measured), or the peak of the tool's own subprocess when it runs in one.
        hints_needed: hints the tool added on its own beyond those it was given.
        zero_hint_error: when the tool added hints, the error its first call raised, as
            "Type: message"; else None (its outcome is then the first call's).
        not_applicable: why the tool does not apply, or None.
    """

    name = ""
    description = ""

    def __init__(self):
        self.seconds = 0.0
        self.peak_rise_bytes = None
        self.hints_needed = []
        self.zero_hint_error = None
        self.not_applicable = None
        self.own_seconds = None

    def __call__(self, their, my, hints=()):
        self.own_seconds = None
        memory = ResidentPeak()
        start = time.perf_counter()
        try:
            with memory:
                return self.adapt(their, my, tuple(tuple(hint) for hint in hints))
        except NotApplicable as reason:
            self.not_applicable = str(reason)
            raise
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed if self.own_seconds is None else self.own_seconds
            self.raise_peak(memory.rise_bytes)

    def raise_peak(self, peak_bytes):
        if peak_bytes is not None:
            self.peak_rise_bytes = max(self.peak_rise_bytes or 0, peak_bytes)

    def adapt(self, their, my, hints):
        raise NotImplementedError


class WeightbridgeTool(Tool):
    name = "weightbridge"
    description = "this repository; hints only when an AmbiguityError proposes them"
    max_rounds = 8

    def adapt(self, their, my, hints):
        hints = list(hints)
        for _ in range(self.max_rounds):
            try:
                return weightbridge.adapt(their, my, hints=hints)
            except weightbridge.AmbiguityError as error:
                proposed = [tuple(hint) for hint in error.hints if tuple(hint) not in hints]
                if not proposed:
                    raise
                if self.zero_hint_error is None:
                    self.zero_hint_error = f"{type(error).__name__}: {error}"
                hints.extend(proposed)
                self.hints_needed.extend(proposed)
            except weightbridge.HintError as error:
                # A later round's hints can make an earlier one unnecessary; the error says to remove it.
                if not error.never_needed or error.hint not in self.hints_needed:
                    raise
                hints.remove(error.hint)
                self.hints_needed.remove(error.hint)
        return weightbridge.adapt(their, my, hints=hints)


class LegacyTool(Tool):
    name = "weightbridge-0.0.4"
    description = "the original release from PyPI, in its own environment"

    def __init__(self, timeout=None):
        super().__init__()
        self.timeout = timeout
        self.run = None

    def adapt(self, their, my, hints):
        in_format, out_format = legacy_formats(their, my)
        run = run_legacy(
            their, my, hints, in_format=in_format, out_format=out_format, timeout=self.timeout
        )
        self.run = run
        self.own_seconds = run.seconds  # 0.0.4's own time, without the subprocess and file exchange
        self.raise_peak(run.peak_bytes)
        if not run.ok:
            if run.error.startswith(("ValueError", "AssertionError")):
                raise ToolRefused(run.error)
            raise RuntimeError(run.error)
        if run.result is None:
            raise NotApplicable("0.0.4 needs values on both sides to return a converted tree")
        values = {path: convert_like(value, _leaf_at(my, path)) for path, value in flatten(run.result)}
        return _rebuild_like(my, values)


class TimmRemapTool(Tool):
    name = "timm-remap"
    description = "timm.models._helpers.remap_state_dict: pairs by enumeration order"

    def adapt(self, their, my, hints):
        for side, tree in (("their", their), ("my", my)):
            if not _is_flat_torch_state_dict(tree):
                raise NotApplicable(f"{side} is not a flat state dict of torch tensors")
        if hints:
            raise NotApplicable("remap_state_dict takes no hints")

        class StateDictOwner:  # remap_state_dict only asks the model for its state dict
            def state_dict(self):
                return my

        try:
            remapped = remap_state_dict(their, StateDictOwner())
        except AssertionError as error:
            raise ToolRefused(f"remap_state_dict: {error}") from None
        missing = [name for name in my if name not in remapped]
        if missing:  # load_state_dict(strict=True) after the remap refuses these
            raise ToolRefused(f"remap_state_dict left {len(missing)} leaves unset, first {missing[0]!r}")
        return OrderedDict((name, convert_like(remapped[name], leaf)) for name, leaf in my.items())


class NameIdentityTool(Tool):
    name = "name-identity"
    description = "same name and same shape, otherwise keep my value (load_state_dict(strict=False))"

    def adapt(self, their, my, hints):
        their_by_name = {_joined(path): leaf for path, leaf in flatten(their)}
        values = {}
        for path, leaf in flatten(my):
            source = their_by_name.get(_joined(path))
            if source is not None and tuple(source.shape) == tuple(leaf.shape):
                values[path] = convert_like(source, leaf)
            else:
                values[path] = leaf
        return _rebuild_like(my, values)


TOOLS = {tool.name: tool for tool in (WeightbridgeTool, LegacyTool, TimmRemapTool, NameIdentityTool)}


def make_tool(name, **options):
    """A fresh instance of the tool called `name` (a key of `TOOLS`)."""
    return TOOLS[name](**options)


def convert_like(value, like):
    """`value` as an array of the same library, dtype and device as the leaf `like`."""
    like_module = type(like).__module__
    if like_module.startswith("torch"):
        device = "cpu" if like.device.type == "meta" else like.device
        if not isinstance(value, torch.Tensor):
            value = torch.from_numpy(np.ascontiguousarray(value))
        return value.detach().to(device=device, dtype=like.dtype)
    array = value if isinstance(value, np.ndarray) else leaf_values(value)
    if like_module.startswith("jax"):
        import jax.numpy as jnp

        return jnp.asarray(array, dtype=like.dtype)
    return np.asarray(array).astype(like.dtype, copy=False)


def legacy_formats(their, my):
    """The `in_format`, `out_format` a user of 0.0.4 would pass: both or neither, as it requires, and
    only between layouts that differ, as its README says (formats "when weights are adapted between
    different deep learning frameworks"). Between equal layouts they permute nothing, but 0.0.4 then
    solves a shape equation per leaf and subtree, 27x its time on DenseNet-121 for the same mapping."""
    in_format, out_format = _legacy_format(their), _legacy_format(my)
    if in_format is None or out_format is None or _LAYOUTS[in_format] == _LAYOUTS[out_format]:
        return None, None
    return in_format, out_format


# 0.0.4's own weight layouts per format name.
_LAYOUTS = {"pytorch": "o i k...", "flax": "k... i o", "tensorflow": "k... i o"}


def _legacy_format(tree):
    """The layout name of a tree for 0.0.4: from its array types, or for numpy arrays (how Keras and
    TensorFlow checkpoints arrive) from their `kernel` names."""
    leaves = flatten(tree)
    modules = {type(leaf).__module__.split(".")[0] for _, leaf in leaves}
    if modules == {"torch"}:
        return "pytorch"
    if modules <= {"jax", "jaxlib"}:
        return "flax"
    if modules == {"numpy"} and any(_joined(path).replace("/", ".").endswith("kernel") for path, _ in leaves):
        return "tensorflow"
    return None


def _is_flat_torch_state_dict(tree):
    return isinstance(tree, Mapping) and all(
        isinstance(name, str) and isinstance(leaf, torch.Tensor) for name, leaf in tree.items()
    )


def _joined(path):
    return ".".join(str(key) for key in path)


def _leaf_at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _rebuild_like(like, values, path=()):
    """A tree with the structure and container types of `like`, leaves from `values`."""
    if isinstance(like, Mapping):
        items = [(key, _rebuild_like(value, values, path + (key,))) for key, value in like.items()]
        try:
            return type(like)(items)
        except TypeError:
            return dict(items)
    if isinstance(like, (list, tuple)) and not hasattr(like, "shape"):
        rebuilt = [_rebuild_like(value, values, path + (index,)) for index, value in enumerate(like)]
        return type(like)(rebuilt) if not hasattr(like, "_fields") else type(like)(*rebuilt)
    return values[path]
