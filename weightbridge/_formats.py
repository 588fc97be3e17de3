"""Formats: the axis order in which a framework stores each kind of weight, as einx expressions."""

import dataclasses
import re

from ._errors import FormatError

WEIGHT_NAMES = ("weight", "kernel", "w")


def _axis_tokens(expression, kind):
    tokens = expression.split() if isinstance(expression, str) else []
    if not tokens or any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.\.\.)?", t) for t in tokens):
        raise FormatError(f"format expression {expression!r} for {kind!r} must be axis names separated by spaces, e.g. 'o i k...'")
    if sum(t.endswith("...") for t in tokens) > 1:
        raise FormatError(f"format expression {expression!r} for {kind!r} has more than one ellipsis")
    return tokens


@dataclasses.dataclass(frozen=True)
class Format:
    """Axis order per kind of weight, e.g. ``Format({"weight": "o i k..."})`` for PyTorch.

    Kinds are named after the parameter: ``"weight"`` covers leaves called weight, kernel or w
    with two or more axes. ``k...`` stands for any number of spatial axes.
    """

    expressions: dict

    def __post_init__(self):
        if not isinstance(self.expressions, dict) or not self.expressions:
            raise FormatError(f"a Format needs a dict of einx expressions per kind of weight, got {self.expressions!r}")
        for kind, expression in self.expressions.items():
            _axis_tokens(expression, kind)


FORMATS = {
    "pytorch": Format({"weight": "o i k..."}),
    "torch": Format({"weight": "o i k..."}),
    "jittor": Format({"weight": "o i k..."}),
    "tensorflow": Format({"weight": "k... i o"}),
    "tf": Format({"weight": "k... i o"}),
    "keras": Format({"weight": "k... i o"}),
    "flax": Format({"weight": "k... i o"}),
    "haiku": Format({"weight": "k... i o"}),
}


def resolve_format(format, argument):
    """A Format from a name, a Format, a dict of expressions, or None."""
    if format is None or isinstance(format, Format):
        return format
    if isinstance(format, dict):
        return Format(format)
    if isinstance(format, str):
        if format.lower() not in FORMATS:
            raise FormatError(f"unknown {argument} {format!r}; known formats: {', '.join(sorted(FORMATS))}, or a Format / dict of einx expressions")
        return FORMATS[format.lower()]
    raise FormatError(f"{argument} must be a format name, a Format or a dict of einx expressions, got {type(format).__name__}")


def _expand(expression, rank):
    tokens = _axis_tokens(expression, "")
    fixed = [t for t in tokens if not t.endswith("...")]
    if len(fixed) > rank or (len(fixed) != rank and len(fixed) == len(tokens)):
        return None
    expanded = []
    for t in tokens:
        if t.endswith("..."):
            expanded.extend(f"{t[:-3]}{i}" for i in range(rank - len(fixed)))
        else:
            expanded.append(t)
    return expanded


def format_permutation(their_format, my_format, kind, rank):
    """The permutation taking a `their` weight of this kind and rank into `my` axis order, or None."""
    if their_format is None or my_format is None:
        return None
    if kind not in their_format.expressions or kind not in my_format.expressions:
        return None
    source = _expand(their_format.expressions[kind], rank)
    target = _expand(my_format.expressions[kind], rank)
    if source is None or target is None or sorted(source) != sorted(target):
        return None
    return tuple(source.index(axis) for axis in target)


def weight_kind(their_parts, my_parts):
    """'weight' when both leaves are kernels (weight/kernel/w), else None: only kernels are permuted by formats."""
    if their_parts[-1].lower() in WEIGHT_NAMES and my_parts[-1].lower() in WEIGHT_NAMES:
        return "weight"
    return None
