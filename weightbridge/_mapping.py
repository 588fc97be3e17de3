"""The mapping: pairs with their transforms, costs and margins; applied, explained, saved and loaded."""

import dataclasses
import json
import math
import os
import re
import tempfile

from ._decode import as_like, materialise, transform
from ._errors import TreeError
from ._features import CONFIDENT_MARGIN, FEATURE_WEIGHTS
from ._leaves import infer_separator, read_leaves, rebuild

FILE_FORMAT = "weightbridge-mapping"
FILE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Pair:
    """One output weight and where it comes from.

    Attributes:
        my: the name of the `my` leaf.
        their: the names of the `their` leaves it is made of: one for a one-to-one pair, several in the
            order the expression takes them for a fused weight ("q i, k i, v i -> (q + k + v) i").
        transform: the einx expression that turns the `their` tensors into the `my` tensor
            ("" when it is taken as it is).
        axes: axis sizes the expression needs, as ``((name, size), ...)``.
        cost: the edge cost, the sum of the weighted features.
        margin: how much more the best assignment without this pair costs (``inf``: no alternative).
            Margins are exact below 1.0; from 1.0 on they are lower bounds (the solver's dual
            potentials, or 1.0 where CP-SAT stops looking), which is all a sure pair needs; they
            print as ``>=1.000``.
        features: the feature values of this pair (each in [0, 1]).
        runner_up: the next-best `their` candidate for this `my` leaf, or None.
        runner_up_features: its feature values.
        part: for a weight split out of a fused one, which of the expression's outputs it is
            ("(a + b) i -> a i, b i", part 1: the second); None otherwise.
    """

    my: str
    their: tuple
    transform: str
    axes: tuple = ()
    cost: float = 0.0
    margin: float = math.inf
    features: dict = dataclasses.field(default_factory=dict)
    runner_up: str = None
    runner_up_features: dict = dataclasses.field(default_factory=dict)
    part: int = None


@dataclasses.dataclass(frozen=True)
class Mapping:
    """The result of :func:`weightbridge.match`: which `their` weights make which `my` weights.

    A Mapping is a value: apply it to any tree with the same signature, save it as readable JSON,
    load it again, and ask it why a pair was chosen. ``graph`` is the cost graph the solver saw
    (None for a loaded mapping).
    """

    pairs: tuple
    my_signature: tuple
    their_signature: tuple
    options: dict
    unmatched_my: tuple = ()
    unmatched_their: tuple = ()
    graph: object = dataclasses.field(default=None, compare=False, repr=False)
    treedef: object = dataclasses.field(default=None, compare=False, repr=False)
    my_aliases: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, my_name):
        for pair in self.pairs:
            if pair.my == my_name:
                return pair
        raise KeyError(f"no pair for my weight {my_name!r}")

    def __len__(self):
        return len(self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def table(self, smallest_first=False):
        """The mapping as aligned text: my name, their name, transform, margin (``>=1.000`` from 1 on, where
        the solver proves a lower bound only); in the order of `my`, or with the smallest margins (the
        closest decisions) first."""
        rows = [("my", "their", "transform", "margin")]
        pairs = sorted(self.pairs, key=lambda p: p.margin) if smallest_first else self.pairs
        for pair in pairs:
            rows.append((pair.my, " + ".join(pair.their), pair.transform or "=", format_margin(pair.margin)))
        for name in self.unmatched_my:
            rows.append((name, "(kept: no partner)", "", ""))
        widths = [max(len(row[k]) for row in rows) for k in range(3)]
        return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows)

    def explain(self, my_name):
        """Why `my_name` got its partner: the weighted features of the chosen edge and of the runner-up."""
        pair = self[my_name]
        lines = [f"{pair.my} <- {' + '.join(pair.their)}", f"  transform: {pair.transform or '(as is)'}"]
        lines.append(f"  cost {pair.cost:.3f}, margin {format_margin(pair.margin)}")
        lines.append(_feature_table(pair.features, pair.runner_up, pair.runner_up_features))
        return "\n".join(lines)

    def rules(self):
        """The mapping compressed into readable rules, one per family of pairs, in the order of `my`.

        Indices that vary together become variables (``{i}``, ``{j}``; ``{i+1}`` where one side counts
        from another start), fused pieces that differ in one module are written as a set::

            blocks.{i}.attn.qkv.weight <- encoder.layer.{i}.attention.attention.{query,key,value}.weight  [a i, b i, c i -> (a + b + c) i]

        A pair whose indices follow no common pattern gets a rule of its own.
        """
        families = {}
        for pair in self.pairs:
            my_template, my_numbers = _numbers_out(pair.my)
            their = [_numbers_out(name) for name in pair.their]
            key = (my_template, tuple(t for t, _ in their), pair.transform, pair.part)
            their_numbers = tuple(n for _, numbers in their for n in numbers)
            families.setdefault(key, []).append((my_numbers, their_numbers))
        rules = []
        for (my_template, their_templates, transform, part), members in families.items():
            written = _rule(my_template, their_templates, members)
            for my_values, their_values in [(None, None)] if written else members:
                if written:
                    my_text, their_texts = written
                else:
                    my_text = my_template.format(*my_values)
                    their_texts, rest = [], list(their_values)
                    for template in their_templates:
                        count = template.count("{}")
                        their_texts.append(template.format(*rest[:count]))
                        rest = rest[count:]
                suffix = f"  [{transform}]" if transform else ""
                if part is not None:
                    suffix += f" (part {part})"
                rules.append(f"{my_text} <- {_join_pieces(their_texts)}{suffix}")
        return rules

    def iter_apply(self, their, cast="safe"):
        """Yields ``(my_name, tensor)`` one output weight at a time, reading each `their` tensor when it is needed.

        Memory holds the tensors of one pair: a fused weight's pieces, or the pieces of a split one
        (kept while the pairs that share them follow each other). `cast` is as for :meth:`apply`.
        """
        values = self._their_values(their)
        my_dtypes = {name: dtype for name, _, dtype in self.my_signature}
        last = {}
        for pair in self.pairs:
            result = _decode_pair(pair, values, last)
            yield pair.my, as_like(result, result, my_dtypes[pair.my], cast, pair.my)

    def apply(self, their, my=None, cast="safe"):
        """Builds the `my` tree from `their`.

        Args:
            their: a tree with the signature this mapping was made for.
            my: the `my` tree (or one with its signature) to shape the result like; defaults to the
                tree `match` saw. A loaded mapping without `my` returns a flat dict by name.
            cast: "safe" raises a DtypeError for a dtype cast that changes values beyond rounding
                (bfloat16 1e30 into float16 is inf; 1.5 into an int); "unsafe" casts anyway.
        """
        values = self._their_values(their)
        separator = self.options.get("out_separator")
        if my is not None:
            separator = separator or infer_separator(my, "my")
            leaves, treedef, my_values = read_leaves(my, "my", separator)
            like = {}
            for leaf, value in zip(leaves, my_values):
                for name in (leaf.name,) + leaf.aliases:
                    like[name] = value
        else:
            treedef, like = self.treedef, None
        by_my = {pair.my: pair for pair in self.pairs}
        for primary, aliases in self.my_aliases.items():
            for alias in aliases:
                by_my.setdefault(alias, by_my.get(primary))
        dtypes = {name: dtype for name, _, dtype in self.my_signature}
        cache, decoded = {}, {}

        def value_of(name):
            pair = by_my.get(name)
            if pair is None:
                if like is None:
                    raise TreeError(f"my weight {name!r} has no partner and no initial value was given; pass my=")
                return like[name]
            if pair.my not in cache:
                result = _decode_pair(pair, values, decoded)
                target = like[pair.my] if like is not None else result
                cache[pair.my] = as_like(result, target, dtypes.get(pair.my, dtypes.get(name)), cast, pair.my)
            return cache[pair.my]

        if treedef is None:
            return {name: value_of(name) for name, _, _ in self.my_signature}
        return rebuild(treedef, value_of)

    def _their_values(self, their):
        separator = self.options.get("in_separator") or infer_separator(their, "their")
        leaves, _, values = read_leaves(their, "their", separator)
        by_name = {}
        for leaf, value in zip(leaves, values):
            for name in (leaf.name,) + leaf.aliases:
                by_name[name] = value
        missing = [name for pair in self.pairs for name in pair.their if name not in by_name]
        if missing:
            raise TreeError(f"`their` lacks {len(missing)} weights this mapping needs, e.g. {missing[0]!r}")
        return by_name

    def to_json(self):
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "options": self.options,
            "my": [[n, list(s), d] for n, s, d in self.my_signature],
            "their": [[n, list(s), d] for n, s, d in self.their_signature],
            "my_aliases": {k: list(v) for k, v in self.my_aliases.items()},
            "pairs": [
                {
                    "my": p.my,
                    "their": list(p.their),
                    "transform": p.transform,
                    "axes": dict(p.axes),
                    "cost": round(p.cost, 6),
                    "margin": None if math.isinf(p.margin) else round(p.margin, 6),
                    "features": {k: round(v, 6) for k, v in p.features.items()},
                    **({"part": p.part} if p.part is not None else {}),
                }
                for p in self.pairs
            ],
            "unmatched_my": list(self.unmatched_my),
            "unmatched_their": list(self.unmatched_their),
        }

    def save(self, path):
        """Writes the mapping as readable JSON, atomically (a temporary file renamed into place)."""
        write_json_atomically(path, self.to_json())

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT or data.get("version") != FILE_VERSION:
            raise ValueError("not a weightbridge mapping file of version 1")
        pairs = tuple(
            Pair(
                my=p["my"], their=tuple(p["their"]), transform=p["transform"], axes=tuple(p["axes"].items()),
                cost=p["cost"], margin=math.inf if p["margin"] is None else p["margin"], features=p.get("features", {}),
                part=p.get("part"),
            )
            for p in data["pairs"]
        )
        return cls(
            pairs=pairs,
            my_signature=tuple((n, tuple(s), d) for n, s, d in data["my"]),
            their_signature=tuple((n, tuple(s), d) for n, s, d in data["their"]),
            options=data["options"],
            unmatched_my=tuple(data["unmatched_my"]),
            unmatched_their=tuple(data["unmatched_their"]),
            my_aliases={k: tuple(v) for k, v in data.get("my_aliases", {}).items()},
        )

    def reverse(self):
        """The mapping from `my` back to `their`: every transform inverted, fused weights split again
        and split ones fused. Applying it to the output of this mapping restores the `their` weights
        that this mapping uses, exactly.

        Example:
            >>> back = mapping.reverse().apply(new_params)  # a flat dict by their names
        """
        their_shapes = {name: shape for name, shape, _ in self.their_signature}
        pairs, splits = [], {}
        for pair in self.pairs:
            if pair.part is not None:
                splits.setdefault((pair.their, pair.transform, pair.axes), []).append(pair)
                continue
            expression, axes = _inverse(pair.transform, [their_shapes[name] for name in pair.their], pair.axes)
            for part, name in enumerate(pair.their):
                pairs.append(Pair(my=name, their=(pair.my,), transform=expression, axes=axes, cost=pair.cost, margin=pair.margin,
                                  features=pair.features, part=part if len(pair.their) > 1 else None))
        for (their_names, forward, forward_axes), parts in splits.items():
            parts = sorted(parts, key=lambda p: p.part)
            expression, _ = _inverse(forward, [their_shapes[name] for name in their_names], forward_axes)
            pairs.append(Pair(my=their_names[0], their=tuple(p.my for p in parts), transform=expression, axes=(),
                              cost=parts[0].cost, margin=parts[0].margin, features=parts[0].features))
        order = {name: k for k, (name, _, _) in enumerate(self.their_signature)}
        options = dict(self.options)
        for a, b in (("in_format", "out_format"), ("in_separator", "out_separator")):
            if a in options or b in options:
                options[a], options[b] = self.options.get(b), self.options.get(a)
        return Mapping(
            pairs=tuple(sorted(pairs, key=lambda p: order[p.my])), my_signature=self.their_signature,
            their_signature=self.my_signature, options=options, unmatched_my=self.unmatched_their,
            unmatched_their=self.unmatched_my,
        )

    @classmethod
    def load(cls, path):
        """Reads a mapping written by :meth:`save`."""
        with open(path) as f:
            return cls.from_json(json.load(f))


_VARIABLES = "ijklmn"


def _numbers_out(name):
    """`name` with each number replaced by `{}` (braces already there doubled), and the numbers."""
    escaped = name.replace("{", "{{").replace("}", "}}")
    return re.sub(r"\d+", "{}", escaped), tuple(int(n) for n in re.findall(r"\d+", escaped))


def _rule(my_template, their_templates, members):
    """`(my_text, their_texts)` with variables for the indices that vary, or None where an index of
    `their` varies in no step with one of `my`."""
    variables, my_fields = [], []
    for column in zip(*(m for m, _ in members)):
        if len(set(column)) == 1:
            my_fields.append(str(column[0]))
        else:
            variable = _VARIABLES[len(variables)] if len(variables) < len(_VARIABLES) else f"v{len(variables)}"
            variables.append((column, variable))
            my_fields.append("{" + variable + "}")
    their_fields = []
    for column in zip(*(t for _, t in members)):
        if len(set(column)) == 1:
            their_fields.append(str(column[0]))
            continue
        field = None
        for mine, variable in variables:
            offsets = {theirs - m for theirs, m in zip(column, mine)}
            if len(offsets) == 1:
                (offset,) = offsets
                field = "{" + variable + (f"{offset:+d}" if offset else "") + "}"
                break
        if field is None:
            return None
        their_fields.append(field)
    texts, rest = [], their_fields
    for template in their_templates:
        count = template.count("{}")
        texts.append(template.format(*rest[:count]))
        rest = rest[count:]
    return my_template.format(*my_fields), texts


def _join_pieces(names):
    """Several names that differ in one dotted (or slashed) module as `a.{x,y,z}.b`, else joined by ` + `."""
    if len(names) == 1:
        return names[0]
    separator = "/" if all("/" in name for name in names) else "."
    parts = [name.split(separator) for name in names]
    if len({len(p) for p in parts}) == 1:
        differing = [k for k in range(len(parts[0])) if len({p[k] for p in parts}) > 1]
        if len(differing) == 1:
            (k,) = differing
            joined = parts[0][:k] + ["{" + ",".join(p[k] for p in parts) + "}"] + parts[0][k + 1:]
            return separator.join(joined)
    return " + ".join(names)


def _decode_pair(pair, values, decoded):
    """The `my` tensor of one pair. `decoded` keeps the outputs of the last split so that its other parts
    do not decode it again."""
    key = (pair.their, pair.transform, pair.axes)
    if pair.part is not None and key in decoded:
        return decoded[key][pair.part]
    sources = [materialise(values[name], name) for name in pair.their]
    result = transform(sources, pair.transform, dict(pair.axes))
    if pair.part is None:
        return result
    decoded.clear()
    decoded[key] = result
    return result[pair.part]


def _inverse(expression, source_shapes, axes):
    """The einx expression that undoes `expression` on sources of `source_shapes`, with the axis sizes it needs."""
    if not expression:
        return "", ()
    left, right = (side.strip() for side in expression.split("->"))
    sizes = dict(axes)
    for tensor, shape in zip(left.split(","), source_shapes):
        for item, size in zip(re.findall(r"\([^)]*\)|\S+", tensor.strip()), shape):
            if re.fullmatch(r"[A-Za-z_]\w*", item):
                sizes[item] = size
    needed = set(re.findall(r"[A-Za-z_]\w*", right)) & set(re.findall(r"[A-Za-z_]\w*", left))
    return f"{right} -> {left}", tuple((name, size) for name, size in sizes.items() if name in needed)


def write_json_atomically(path, data):
    write_text_atomically(path, json.dumps(data, indent=1))


def write_text_atomically(path, text):
    """Writes `text` to a temporary file next to `path` and renames it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".weightbridge-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        # mkstemp makes the file private; the result gets the permissions of any new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def format_margin(margin):
    """A margin as the table, the explanation and the report print it. From CONFIDENT_MARGIN on the solver
    proves only a lower bound (its ``exact_below``), which differs by solver path, so such margins print alike."""
    if math.isinf(margin):
        return "inf"
    if margin >= CONFIDENT_MARGIN:
        return f">={CONFIDENT_MARGIN:.3f}"
    return f"{margin:.3f}"


def _feature_table(chosen, runner_up, runner_up_features):
    """The weighted features as columns as wide as their widest cell."""
    header = ["feature", "weight", "chosen"] + (["runner-up"] if runner_up is not None else [])
    rows = [header]
    for name, weight in FEATURE_WEIGHTS.items():
        row = [name, f"{weight:.1f}", f"{weight * chosen.get(name, 0.0):.3f}"]
        if runner_up is not None:
            row.append(f"{weight * runner_up_features.get(name, 0.0):.3f}")
        rows.append(row)
    widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
    lines = ["  " + "  ".join([row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])])
             for row in rows]
    if runner_up is not None:
        lines.append(f"  runner-up: {runner_up}")
    else:
        lines.append("  runner-up: none (no other weight has a compatible shape and dtype)")
    return "\n".join(lines)
