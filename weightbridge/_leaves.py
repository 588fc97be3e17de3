"""Read leaves: flatten weight trees into named leaves and rebuild trees shaped like `my`."""

import copy
import dataclasses
import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping as AbcMapping

import numpy as np

from ._errors import FormatError, TreeError

SEPARATORS = ("/", ".")


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One weight: where it sits, what it looks like, and in which order it was enumerated.

    ``name`` is the path joined by the side's separator; ``aliases`` are further names of
    the same tensor (tied weights), recognised by identity of the underlying storage.
    """

    path: tuple
    name: str
    shape: tuple
    dtype: str
    index: int
    aliases: tuple = ()
    # Where each alias was enumerated: how many leaves came before it.
    alias_positions: tuple = ()

    @functools.cached_property
    def parts(self):
        """The module path split at every separator, the last part being the leaf's own name."""
        return tuple(p for p in re.split(r"[./]", self.name) if p != "")

    @functools.cached_property
    def size(self):
        return math.prod(self.shape)

    @functools.cached_property
    def dtype_kind(self):
        return dtype_kind(self.dtype)


@functools.lru_cache(maxsize=None)
def dtype_kind(dtype):
    """'float', 'int', 'bool' or 'complex': only leaves of one kind can be partners."""
    name = str(dtype).replace("torch.", "")
    if name.startswith("bool"):
        return "bool"
    if name.startswith("complex"):
        return "complex"
    if name.startswith(("int", "uint", "long", "short")):
        return "int"
    return "float"


def is_counter(leaf):
    """A single integer: a counter (BatchNorm's num_batches_tracked, a step), never a learned value. One
    implementation keeps it where another keeps none."""
    return leaf.dtype_kind == "int" and leaf.size == 1


def dtype_name(dtype):
    """A framework-neutral dtype name: 'float32', 'bfloat16', 'int64', ..."""
    name = str(dtype)
    if name.startswith("torch."):
        name = name[len("torch."):]
    if name.startswith("<class 'numpy."):
        name = name[len("<class 'numpy."):-2]
    return {"float": "float32", "half": "float16", "double": "float64", "long": "int64", "int": "int32"}.get(name, name)


def is_array_like(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (str, bytes))


def _is_container(x):
    return isinstance(x, (AbcMapping, list, tuple)) and not is_array_like(x)


def _children(node):
    if isinstance(node, AbcMapping):
        return list(node.items())
    return [(str(i), child) for i, child in enumerate(node)]


def _storage_key(x):
    """Identity of the memory behind a tensor, so that tied weights are recognised."""
    module = type(x).__module__
    if module.startswith("torch"):
        if x.device.type == "meta":
            return None
        return ("torch", x.untyped_storage().data_ptr(), x.storage_offset(), tuple(x.shape), tuple(x.stride()), str(x.dtype))
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        return ("numpy", x.__array_interface__["data"][0], x.shape, x.strides, str(x.dtype))
    if module.startswith(("jax", "jaxlib")):
        return ("object", id(x))
    return None


def infer_separator(tree, side):
    """The separator of a side's names: the one its keys already use, else '/' (as 0.0.4)."""
    used = set()

    def visit(node):
        if _is_container(node):
            for key, child in _children(node):
                if isinstance(key, str):
                    used.update(s for s in SEPARATORS if s in key)
                visit(child)

    visit(tree)
    if len(used) > 1:
        raise FormatError(
            f"the names of `{side}` contain both '/' and '.'; pass {'in' if side == 'their' else 'out'}_separator= to say which one separates modules"
        )
    return used.pop() if used else "/"


def read_leaves(tree, side, separator):
    """Flattens a weight tree into leaves in enumeration order, plus the tree definition for rebuilding.

    Returns ``(leaves, treedef, values)``: ``values[i]`` is the array object of ``leaves[i]``.
    Tied tensors (the same storage under several names) become one leaf with aliases.
    """
    if separator not in (None,) and not isinstance(separator, str):
        raise FormatError(f"separator of `{side}` must be a string, got {separator!r}")
    if is_array_like(tree) or not _is_container(tree):
        raise TreeError(
            f"`{side}` must be a tree of arrays (a dict, Mapping, list or tuple), got {type(tree).__name__}"
        )
    records = []
    not_arrays = []

    def visit(node, path):
        if _is_container(node):
            children = _children(node)
            if not children and path:
                return ("empty", type(node))
            definition = (type(node), [(key, visit(child, path + (str(key),))) for key, child in children])
            # torch's state dict carries each module's version (`_metadata`), which some modules read on load.
            metadata = getattr(node, "_metadata", None)
            return definition if metadata is None else definition + (copy.deepcopy(metadata),)
        if is_array_like(node):
            records.append((path, node))
            return ("leaf", separator.join(path))
        not_arrays.append((path, node))
        return ("leaf", separator.join(path))

    treedef = visit(tree, ())
    if not_arrays:
        path, value = not_arrays[0]
        names = ", ".join(repr(separator.join(p)) for p, _ in not_arrays[:5])
        suggestion = _suggest_subtree(tree, separator)
        raise TreeError(
            f"`{side}` has {len(not_arrays)} leaves that are not arrays ({names}: {type(value).__name__})"
            + (f"; this looks like a training checkpoint: pass {side}[{suggestion!r}] instead" if suggestion else "")
        )
    if not records:
        raise TreeError(f"`{side}` holds no arrays")

    leaves, values, by_storage, by_name = [], [], {}, {}
    for path, value in records:
        name = separator.join(path)
        if name in by_name:
            raise TreeError(f"`{side}` has two weights named {name!r} after flattening with separator {separator!r}")
        by_name[name] = True
        key = _storage_key(value)
        if key is not None and key in by_storage:
            i = by_storage[key]
            leaves[i] = dataclasses.replace(leaves[i], aliases=leaves[i].aliases + (name,),
                                            alias_positions=leaves[i].alias_positions + (len(leaves),))
            continue
        if key is not None:
            by_storage[key] = len(leaves)
        leaves.append(Leaf(path=path, name=name, shape=tuple(int(d) for d in value.shape), dtype=dtype_name(value.dtype), index=len(leaves)))
        values.append(value)
    return leaves, treedef, values


# A definition order lists every module's weights together (a state dict, a Flax or Haiku tree and a
# Keras model all enumerate module by module) and lists alike modules' weights alike (every Linear its
# weight, then its bias). On the zoo's 394 sides in definition order both shares are 1.0. A seeded
# shuffle of a flat state dict keeps at most a third of the modules together; a shuffle of each
# level's keys keeps them together, and lists alike modules alike in 6% to 80% of them (a few small
# trees, or trees whose modules hold one weight each, come out as a definition order by chance:
# 4 of the 394). The bounds sit between, leaving a definition order room for a module or two
# registered out of line.
MIN_MODULES_TOGETHER = 0.9
MIN_MODULES_ALIKE = 0.8


def order_is_informative(leaves):
    """Enumeration order is evidence where it is a definition order (see `order_unlike_definition`)."""
    return order_unlike_definition(leaves) is None


def order_unlike_definition(leaves):
    """Why the enumeration order of `leaves` is no definition order, and so no evidence: "alphabetical"
    (how a safetensors, .npz or TF checkpoint hands its keys over), "not module by module" (a module's
    weights lie apart, or alike modules list theirs differently: a shuffle), "of two weights only";
    None where it is one."""
    names = [leaf.name for leaf in leaves]
    if _is_sorted(names) or _is_sorted(names, key=_natural_key):
        return "alphabetical"
    if len(names) <= 2:
        return "of two weights only"
    together, alike, lists_in_order = _module_shares(leaves)
    if together < MIN_MODULES_TOGETHER or alike < MIN_MODULES_ALIKE:
        return "not module by module"
    if not lists_in_order:
        return "a list out of number order"
    return None


def _is_sorted(items, key=None):
    """Stops at the first pair out of order (a definition order has one within its first module)."""
    previous = None
    for k, item in enumerate(items):
        current = key(item) if key else item
        if k and current < previous:
            return False
        previous = current
    return True


_NUMBER = re.compile(r"(\d+)")


def _natural_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _NUMBER.split(name)]


def _module_shares(leaves):
    """In one pass: the share of modules holding modules whose weights are enumerated one after another
    (a module that opens again after it closed lies apart; its own weights may be listed kind by kind,
    every weight and then every bias), and among modules whose weights' names another module shares,
    the share that lists them in the order most of those modules do; and whether every list opens its
    numbered items in the order of their numbers."""
    closed, holding, apart, own, last_item = set(), set(), set(), {}, {}
    lists_in_order = True
    previous = ()
    for leaf in leaves:
        module = leaf.parts[:-1]
        own.setdefault(module, []).append(leaf.parts[-1])
        if module == previous:
            continue
        common = 0
        for a, b in zip(previous, module):
            if a != b:
                break
            common += 1
        for depth in range(common + 1, len(previous) + 1):
            closed.add(previous[:depth])
        for depth in range(common + 1, len(module) + 1):
            opened = module[:depth]
            if opened in closed:
                apart.add(opened)
            elif opened[-1].isdigit():
                number = int(opened[-1])
                lists_in_order = lists_in_order and number > last_item.get(opened[:-1], -1)
                last_item[opened[:-1]] = number
            if depth < len(module):
                holding.add(opened)
        previous = module
    together = 1.0 - len(apart & holding) / len(holding) if holding else 1.0
    orders = defaultdict(Counter)
    for names in own.values():
        if len(names) >= 2:
            orders[frozenset(names)][tuple(names)] += 1
    classes = [counts for counts in orders.values() if sum(counts.values()) >= 2]
    total = sum(sum(counts.values()) for counts in classes)
    alike = sum(max(counts.values()) for counts in classes) / total if total else 1.0
    return together, alike, lists_in_order


def split_tied(leaves, other_leaves):
    """One leaf per name of a tied tensor, where the other side holds more weights of its size than this
    side does: a tied tensor (GPT-2's `wte` and `lm_head`) then feeds each of the other side's untied
    weights. Each copy lists the tensor's other names as its aliases; indices follow enumeration order."""
    if not any(leaf.aliases for leaf in leaves):
        return leaves
    mine = Counter((leaf.size, leaf.dtype_kind) for leaf in leaves)
    theirs = Counter((leaf.size, leaf.dtype_kind) for leaf in other_leaves)

    def split(leaf):
        return leaf.aliases and theirs[(leaf.size, leaf.dtype_kind)] > mine[(leaf.size, leaf.dtype_kind)]

    if not any(split(leaf) for leaf in leaves):
        return leaves
    placed = []
    for k, leaf in enumerate(leaves):
        if not split(leaf):
            placed.append(((k, 0), leaf))
            continue
        names = (leaf.name,) + leaf.aliases
        for n, name in enumerate(names):
            path = tuple(re.split(r"[./]", name)) if n else leaf.path
            # A copy sits where its name was enumerated: after the leaves that came before it.
            where = (k, 0) if n == 0 else (leaf.alias_positions[n - 1] - 1, n)
            placed.append((where, dataclasses.replace(leaf, path=path, name=name, aliases=tuple(x for x in names if x != name),
                                                      alias_positions=())))
    placed.sort(key=lambda item: item[0])
    return [dataclasses.replace(leaf, index=k) for k, (_, leaf) in enumerate(placed)]


def _suggest_subtree(tree, separator):
    """The key under which most arrays sit: what to pass instead of a whole training checkpoint."""
    if not isinstance(tree, AbcMapping):
        return None
    counts = {}

    def count(node):
        if _is_container(node):
            return sum(count(child) for _, child in _children(node))
        return 1 if is_array_like(node) else 0

    for key, child in tree.items():
        if _is_container(child):
            counts[key] = count(child)
    return max(counts, key=counts.get) if counts and max(counts.values()) > 0 else None


def rebuild(treedef, value_of):
    """Rebuilds a tree from its definition, asking `value_of(name)` for every leaf."""
    kind, content = treedef[:2]
    if kind == "leaf":
        return value_of(content)
    if kind == "empty":
        return content()
    items = [(key, rebuild(child, value_of)) for key, child in content]
    if len(treedef) > 2:
        rebuilt = _rebuilt_container(kind, items)
        try:
            rebuilt._metadata = copy.deepcopy(treedef[2])
        except AttributeError:  # a container that takes no attributes (a plain dict) goes without
            pass
        return rebuilt
    return _rebuilt_container(kind, items)


def _rebuilt_container(kind, items):
    if issubclass(kind, (list, tuple)):
        values = [v for _, v in items]
        if hasattr(kind, "_fields"):
            return kind(*values)
        return kind(values) if kind not in (list, tuple) else kind(values)
    if kind is dict:
        return dict(items)
    try:
        return kind(items)
    except TypeError:
        return dict(items)
