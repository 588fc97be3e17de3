"""Candidate transforms: the layout changes that make one shape into another, as einx expressions."""

import dataclasses
import re
import string

PRICE_RESHAPE = 0.05
PRICE_MERGE = 0.1
# Axis orders cost nothing: which one holds is decided by the evidence of the whole model
# (settle_layouts), never by preferring the tensor as it is.
PRICE_PERMUTE = 0.0


@dataclasses.dataclass(frozen=True)
class Transform:
    """A layout change: ``einx.id(expression, x, **axes)``; an empty expression keeps the tensor as it is."""

    expression: str
    axes: tuple = ()
    price: float = 0.0
    layout: str = "keep"

    @property
    def axis_sizes(self):
        return dict(self.axes)


IDENTITY = Transform("")


def layouts_for(rank):
    """Axis permutations that real frameworks differ by, per rank (name, permutation)."""
    if rank < 2:
        return [("keep", tuple(range(rank)))]
    if rank == 2:
        return [("keep", (0, 1)), ("transposed", (1, 0))]
    channels_last = tuple(range(2, rank)) + (1, 0)
    channels_first = (rank - 1, rank - 2) + tuple(range(rank - 2))
    # A dense kernel over three axes (Flax's DenseGeneral in attention: (heads, head dim, out) or
    # (in, heads, head dim)) against a matrix (out, in): the output axis moves, the others keep their order.
    outputs_first = (rank - 1,) + tuple(range(rank - 1))
    inputs_last = tuple(range(1, rank)) + (0,)
    layouts = [("keep", tuple(range(rank))), ("channels_last", channels_last), ("channels_first", channels_first)]
    return layouts + ([("outputs_first", outputs_first), ("inputs_last", inputs_last)] if rank == 3 else [])


def _split_layouts(rank):
    """The layouts a split axis may take apart: the known ones, and matrices stacked along leading axes
    (heads), each transposed. Not a layout of equal shapes: a square stack of experts (experts, n, n)
    fits it and `keep` alike, and no weight of its kind around it proves which."""
    batched_transposed = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    layouts = layouts_for(rank)
    if rank >= 3 and batched_transposed not in [permutation for _, permutation in layouts]:
        layouts.append(("batched_transposed", batched_transposed))
    return layouts


def reshape_transform(source_shape, permutation, target_shape, layout="keep"):
    """The einx transform that permutes `source_shape` and then reshapes it to `target_shape`, or None.

    Reshapes only drop or add axes of size 1, merge neighbouring axes or split one axis into neighbours.
    """
    if len(source_shape) > len(string.ascii_lowercase):
        return None
    names = string.ascii_lowercase
    permuted = [(names[p], source_shape[p]) for p in permutation]
    if tuple(s for _, s in permuted) == tuple(target_shape):
        if permutation == tuple(range(len(source_shape))):
            return IDENTITY
        left = " ".join(names[i] if s != 1 else "1" for i, s in enumerate(source_shape))
        right = " ".join(n if s != 1 else "1" for n, s in permuted)
        return Transform(f"{left} -> {right}", (), PRICE_PERMUTE, layout)
    source_axes = [(n, s) for n, s in permuted if s != 1]
    target_sizes = [s for s in target_shape if s != 1]
    groups, splits, merged = [], {}, False
    i = j = 0
    while i < len(source_axes) and j < len(target_sizes):
        name, size = source_axes[i]
        target = target_sizes[j]
        if size == target:
            groups.append([name])
            i, j = i + 1, j + 1
        elif size < target:
            group, product = [name], size
            i += 1
            while product < target and i < len(source_axes):
                group.append(source_axes[i][0])
                product *= source_axes[i][1]
                i += 1
            # Merged axes beside others keep the order they have in the source: implementations flatten
            # (heads, head dim) as it is stored, never reversed.
            if product != target or (group != sorted(group) and len(group) < len(source_axes)):
                return None
            groups.append(group)
            j += 1
            merged = True
        else:
            parts, product = [], 1
            while product < size and j < len(target_sizes):
                parts.append((f"{name}{len(parts)}", target_sizes[j]))
                product *= target_sizes[j]
                j += 1
            if product != size:
                return None
            splits[name] = parts
            groups.extend([[sub] for sub, _ in parts])
            i += 1
            merged = True
    if i != len(source_axes) or j != len(target_sizes):
        return None

    def axis(name):
        return f"({' '.join(sub for sub, _ in splits[name])})" if name in splits else name

    left = " ".join(axis(names[i]) if s != 1 else "1" for i, s in enumerate(source_shape))
    right_items = []
    group_iter = iter(groups)
    for s in target_shape:
        if s == 1:
            right_items.append("1")
        else:
            group = next(group_iter)
            right_items.append(group[0] if len(group) == 1 else f"({' '.join(group)})")
    axes = tuple((sub, size) for parts in splits.values() for sub, size in parts)
    permuted_order = permutation != tuple(range(len(source_shape)))
    price = (PRICE_MERGE if merged else PRICE_RESHAPE) + (PRICE_PERMUTE if permuted_order else 0.0)
    return Transform(f"{left} -> {' '.join(right_items)}", axes, price, layout)


def candidate_transforms(their_shape, my_shape, permutation=None):
    """Every layout under which `their_shape` becomes `my_shape`: the forced format permutation, or all known layouts."""
    if int(_product(their_shape)) != int(_product(my_shape)):
        return []
    if permutation is not None:
        layouts = [("format", permutation)]
    else:
        layouts = layouts_for(len(their_shape))
    found = []
    for layout, perm in layouts:
        transform = reshape_transform(tuple(their_shape), perm, tuple(my_shape), layout)
        if transform is not None and all(transform.expression != t.expression or t.axes != transform.axes for t in found):
            found.append(transform)
    if not found and permutation is None:
        found = _split_then_permuted(tuple(their_shape), tuple(my_shape))
    return found


def _split_then_permuted(their_shape, my_shape):
    """The layouts where `their` axis splits into parts that `my` keeps apart: `my`'s axes, permuted by a
    known layout, merge into `their_shape` (Keras's per-head query kernel (heads, in, head dim) against
    torch's (heads * head dim, in)). Each is that merge read backwards."""
    found = []
    for layout, perm in _split_layouts(len(my_shape)):
        merge = reshape_transform(my_shape, perm, their_shape, layout)
        if merge is None or merge.axes or "(" not in merge.expression:
            continue  # a merge needs no axis sizes; one that splits too, or only permutes, is no split of their axis
        left, right = merge.expression.split(" -> ")
        axes = tuple((name, size) for name, size in zip(left.split(), my_shape) if name != "1")
        found.append(Transform(f"{right} -> {left}", axes, PRICE_MERGE, layout))
    return found


def _product(shape):
    result = 1
    for s in shape:
        result *= int(s)
    return result


# A 2-D transposition is the same change of framework as either channel move of a conv kernel,
# so it is evidence for both; the two channel moves are evidence against each other.
SWAPS = {"transposed", "channels_last", "channels_first", "outputs_first", "inputs_last", "batched_transposed"}


def compatible(layout, evidence):
    """Whether a pair in `layout` agrees with a proven `evidence` layout of the same kind of weight."""
    return layout == evidence or (layout in SWAPS and evidence in SWAPS and "transposed" in (layout, evidence))


def layout_kind(parts):
    """The kind of weight whose layouts are evidence for each other: the raw parameter name
    ('kernel', 'weight', 'embeddings'), so an embedding table is no evidence for a kernel."""
    return re.sub(r":\d+$", "", parts[-1]).lower()


def proves_layout(shape):
    """Only a weight with two or more axes longer than one has an axis order to prove."""
    return sum(d > 1 for d in shape) >= 2
