"""Hypothesis strategies: random models named the PyTorch way, and ports of them whose true correspondence is known.

A model is a list of parameters, each a module path of segments, a role (weight, bias, running_mean, ...)
and a shape in PyTorch layout. A port renders the same parameters under another convention: module
synonyms, another numbering, another separator or nesting, other parameter names, Flax kernel layout,
1-D parameters stored as (1, 1, 1, C), another enumeration order. Every leaf keeps its identity, so the
value each output leaf must receive is known exactly.
"""

import dataclasses
import itertools
import random

import numpy as np
from hypothesis import strategies as st


@dataclasses.dataclass(frozen=True)
class Segment:
    """One step of a module path: a word, maybe numbered ('conv1'), maybe an element of a list ('blocks.3')."""

    word: str
    number: int = None
    element: bool = False


@dataclasses.dataclass(frozen=True)
class Param:
    module: tuple
    kind: str  # "conv", "linear" or "norm"
    role: str  # "weight", "bias", "running_mean", "running_var" or "num_batches_tracked"
    shape: tuple  # PyTorch layout


# ---------------------------------------------------------------------------------------------- models

def _norm(module, width, stats):
    params = [Param(module, "norm", "weight", (width,)), Param(module, "norm", "bias", (width,))]
    if stats:
        params += [
            Param(module, "norm", "running_mean", (width,)),
            Param(module, "norm", "running_var", (width,)),
            Param(module, "norm", "num_batches_tracked", ()),
        ]
    return params


def _conv(module, out, inp, k, bias):
    params = [Param(module, "conv", "weight", (out, inp) + k)]
    return params + ([Param(module, "conv", "bias", (out,))] if bias else [])


def _linear(module, out, inp, bias):
    params = [Param(module, "linear", "weight", (out, inp))]
    return params + ([Param(module, "linear", "bias", (out,))] if bias else [])


@st.composite
def models(draw, min_blocks=1, max_blocks=5):
    """A random network in PyTorch naming: a stem, repeated blocks (convolutional or MLP) and a head.

    Widths come from a small set, so many parameters share a shape: that is where mappings go wrong.
    """
    width = draw(st.sampled_from([4, 6, 8]))
    stats = draw(st.booleans())  # batch norm (with running statistics) or layer norm
    kind = draw(st.sampled_from(["conv", "mlp"]))
    conv_bias = draw(st.booleans())
    params = []

    stem_k = draw(st.sampled_from([(1, 1), (3, 3), (1, 3)]))
    if draw(st.booleans()):
        stem_conv, stem_norm = (Segment("stem"), Segment("conv")), (Segment("stem"), Segment("norm"))
    else:
        stem_conv, stem_norm = (Segment("conv", 1),), (Segment("norm", 1),)
    params += _conv(stem_conv, width, 3, stem_k, conv_bias)
    params += _norm(stem_norm, width, stats)

    blocks = draw(st.integers(min_blocks, max_blocks))
    previous = width
    for b in range(blocks):
        block = (Segment("blocks", b, element=True),)
        out = draw(st.sampled_from([width, 2 * width])) if b else width
        if kind == "conv":
            k = draw(st.sampled_from([(3, 3), (1, 1)]))
            params += _conv(block + (Segment("conv", 1),), out, previous, k, conv_bias)
            params += _norm(block + (Segment("norm", 1),), out, stats)
            params += _conv(block + (Segment("conv", 2),), out, out, k, conv_bias)
            params += _norm(block + (Segment("norm", 2),), out, stats)
            if out != previous or draw(st.booleans()):
                params += _conv(block + (Segment("downsample"), Segment("conv")), out, previous, (1, 1), False)
                params += _norm(block + (Segment("downsample"), Segment("norm")), out, stats)
        else:
            hidden = draw(st.sampled_from([out, 2 * out]))
            params += _norm(block + (Segment("norm", 1),), previous, stats)
            params += _linear(block + (Segment("mlp"), Segment("fc", 1)), hidden, previous, True)
            params += _linear(block + (Segment("mlp"), Segment("fc", 2)), out, hidden, True)
            if out != previous:
                params += _linear(block + (Segment("downsample"),), out, previous, False)
        previous = out

    if draw(st.booleans()):
        params += _norm((Segment("head"), Segment("norm")), previous, stats)
    classes = draw(st.sampled_from([previous, 10]))
    params += _linear((Segment("head"), Segment("fc")), classes, previous, draw(st.booleans()))
    return params


# ---------------------------------------------------------------------------------------------- ports

MODULE_WORDS = {
    "stem": ["stem"],
    "conv": ["conv", "convolution", "Conv", "cnn"],
    "norm": ["norm", "bn", "ln", "BatchNorm", "LayerNorm", "batchnorm", "gn"],
    "blocks": ["blocks", "layers", "layer", "h", "block", "resblocks"],
    "downsample": ["downsample", "shortcut", "skip"],
    "mlp": ["mlp", "ffn", "feedforward", "MLP"],
    "fc": ["fc", "linear", "dense", "Dense"],
    "head": ["head", "classifier", "cls"],
}

# Parameter names per convention; None: the convention has no such parameter.
ROLE_NAMES = {
    "torch": {"weight": "weight", "bias": "bias", "norm_weight": "weight", "norm_bias": "bias",
              "running_mean": "running_mean", "running_var": "running_var", "num_batches_tracked": "num_batches_tracked"},
    "flax": {"weight": "kernel", "bias": "bias", "norm_weight": "scale", "norm_bias": "bias",
             "running_mean": "mean", "running_var": "var", "num_batches_tracked": None},
    "haiku": {"weight": "w", "bias": "b", "norm_weight": "scale", "norm_bias": "offset",
              "running_mean": "mean", "running_var": "var", "num_batches_tracked": None},
    "keras": {"weight": "kernel", "bias": "bias", "norm_weight": "gamma", "norm_bias": "beta",
              "running_mean": "moving_mean", "running_var": "moving_variance", "num_batches_tracked": None},
}

# How a numbered module ('conv1') and a list element ('blocks.3') are written.
NUMBERED = ["{w}{n}", "{w}_{n}", "{w}_{m}"]  # m: counting from 0, as Flax's automatic names do
ELEMENTS = ["{w}.{n}", "{w}_{n}", "{w}{p}"]  # p: counting from 1, as torchvision's layer1..layer4

# Modules a port may wrap in a chain of single-child modules (a Sequential around a conv, timm's
# ConvNormAct, Keras's repeated layer name), keyed by (word, number; None for a list element).
WRAPPABLE = [("stem", None), ("conv", None), ("conv", 1), ("conv", 2), ("norm", None), ("norm", 1), ("norm", 2),
             ("blocks", None), ("downsample", None), ("mlp", None), ("fc", None), ("fc", 1), ("fc", 2), ("head", None)]
WRAPPER_WORDS = ["0", "inner", "module", "wrapped", "layer", "block"]
# Module words whose level a port may remove: "mlp" may vanish (its children move up, their names
# still unique); all of these may merge with the module below ('stem.conv' -> 'stem_conv').
REMOVABLE = ["stem", "mlp", "downsample", "head"]
# Orders under which lettered siblings ('conv_a') are still fair: the order of definition tells them apart,
# or the order is plainly no evidence (sorted). Any other order looks like a definition order and misleads.
LETTERED_ORDERS = ("kept", "alphabetical", "blocks_reordered")


@dataclasses.dataclass(frozen=True)
class Port:
    """How the other implementation writes the same model."""

    words: dict  # canonical module word -> its word
    numbered: str
    elements: str
    plain_numbers: bool  # False: numbered siblings get letters ('conv_a'), so names no longer tell them apart
    letters: dict  # (word, number) -> letter, when plain_numbers is False
    roles: str  # a key of ROLE_NAMES
    layout: str  # "pytorch" or "flax"
    reshaped: frozenset  # (kind, role) whose 1-D parameters are stored as (1, 1, 1, C)
    nesting: str  # "flat.", "flat/", "nested", "lists", "collections" or "flax/" (flat, '/' and collections)
    order: str  # "kept", "alphabetical", "within_modules", "modules", "shuffled" or "blocks_reordered"
    order_seed: int
    # Renumbered lists: element n is written with the number block_numbers[n] (empty: n, or n + 1 for {p}).
    block_numbers: tuple = ()
    # Renested modules: levels above every path, a level above the list of blocks, levels removed or
    # merged with the level below, chains of single-child wrappers below a module (see WRAPPABLE).
    root: tuple = ()
    group: str = None
    dropped: frozenset = frozenset()
    merged: frozenset = frozenset()
    wrappers: dict = dataclasses.field(default_factory=dict)

    def segment_parts(self, segment):
        word = self.words.get(segment.word, segment.word)
        if segment.element:
            n = segment.number
            if self.block_numbers:
                return self.elements.format(w=word, n=self.block_numbers[n], p=self.block_numbers[n]).split(".")
            return self.elements.format(w=word, n=n, p=n + 1).split(".")
        if segment.number is None:
            return [word]
        if not self.plain_numbers:
            return [f"{word}_{self.letters[(segment.word, segment.number)]}"]
        return [self.numbered.format(w=word, n=segment.number, m=segment.number - 1)]

    def module_parts(self, module):
        """The path of a module: its segments written, and levels added, removed or merged as this port nests."""
        parts = []
        for i, segment in enumerate(module):
            if segment.word in self.dropped:
                continue
            if segment.element and self.group:
                parts.append(self.group)
            written = self.segment_parts(segment)
            if i and module[i - 1].word in self.merged:
                written = [parts.pop() + "_" + written[0]] + written[1:]
            parts += written
            if segment.word not in self.merged or i == len(module) - 1:
                parts += self.wrappers.get((segment.word, None if segment.element else segment.number), ())
        return parts

    def role_name(self, param):
        role = param.role
        if param.kind == "norm" and role in ("weight", "bias"):
            role = "norm_" + role
        return ROLE_NAMES[self.roles][role]


# The model's own convention: a PyTorch state dict.
TORCH = Port(words={}, numbered="{w}{n}", elements="{w}.{n}", plain_numbers=True, letters={}, roles="torch",
             layout="pytorch", reshaped=frozenset(), nesting="flat.", order="kept", order_seed=0)


@st.composite
def ports(draw, *, orders=("kept", "alphabetical", "within_modules", "modules"),
          nestings=("flat.", "flat/", "nested", "lists", "collections"), plain_numbers=None, layout=None,
          renumbered=False, renested=False):
    """How the other implementation writes the model; `orders` and `nestings` are the choices to draw from.
    `renumbered` and `renested`: True, False or None (drawn) for lists numbered otherwise (from 1, from 9,
    with gaps) and for modules nested otherwise (see Port)."""
    words = {word: draw(st.sampled_from(options)) for word, options in MODULE_WORDS.items()}
    plain = draw(st.booleans()) if plain_numbers is None else plain_numbers
    letters = {}
    if not plain:
        # Numbered siblings get letters in random order: 'conv1', 'conv2' become 'conv_b', 'conv_a'.
        for word in ("conv", "norm", "fc"):
            shuffled = draw(st.permutations(["a", "b"]))
            letters.update({(word, 1): shuffled[0], (word, 2): shuffled[1]})
    # A shuffle is only fair while the names still tell the truth: otherwise nothing could tell the pairing.
    orders = [o for o in orders if plain or o in LETTERED_ORDERS]
    order = draw(st.sampled_from(orders))
    reshapable = [("norm", "weight"), ("norm", "bias"), ("norm", "running_mean"), ("norm", "running_var"),
                  ("conv", "bias"), ("linear", "bias")]
    reshaped = frozenset(draw(st.lists(st.sampled_from(reshapable), unique=True, max_size=3)))
    return Port(
        words=words,
        numbered=draw(st.sampled_from(NUMBERED)),
        elements=draw(st.sampled_from(ELEMENTS)),
        plain_numbers=plain,
        letters=letters,
        roles=draw(st.sampled_from(list(ROLE_NAMES))),
        layout=draw(st.sampled_from(["pytorch", "flax"])) if layout is None else layout,
        reshaped=reshaped,
        nesting=draw(st.sampled_from(nestings)),
        order=order,
        order_seed=draw(st.integers(0, 2**16)),
        block_numbers=draw(_block_numbers()) if _chosen(draw, renumbered) else (),
        **(draw(_renesting()) if _chosen(draw, renested) else {}),
    )


def _chosen(draw, option):
    """True or False as given, or drawn for None (nothing is drawn otherwise: earlier draws stay as they were)."""
    return draw(st.booleans()) if option is None else option


@st.composite
def _block_numbers(draw, length=16):
    """Increasing list numbers: shifted (from 1, 2, 7 or 9: '10' then sorts before '9') or with gaps (the first
    gap after the second number at the latest)."""
    if draw(st.booleans()):
        start, steps = draw(st.sampled_from([1, 2, 7, 9])), [1] * (length - 1)
    else:
        start = draw(st.integers(0, 3))
        steps = [draw(st.integers(2, 4))] + draw(st.lists(st.integers(1, 4), min_size=length - 2, max_size=length - 2))
    return tuple(itertools.accumulate(steps, initial=start))


@st.composite
def _renesting(draw):
    """Port fields that nest the modules otherwise; at least one of them differs from the model's nesting."""
    root = draw(st.sampled_from([(), ("model",), ("module",), ("backbone", "body")]))
    group = draw(st.sampled_from([None, "encoder", "trunk", "stages"]))
    removed = draw(st.lists(st.sampled_from(REMOVABLE), unique=True, max_size=3))
    dropped = frozenset(word for word in removed if word == "mlp" and draw(st.booleans()))
    wrapped = draw(st.lists(st.sampled_from(WRAPPABLE), unique=True, min_size=0 if root or group or removed else 1, max_size=3))
    wrappers = {key: tuple(draw(st.lists(st.sampled_from(WRAPPER_WORDS), min_size=1, max_size=3))) for key in wrapped}
    return dict(root=root, group=group, dropped=dropped, merged=frozenset(removed) - dropped, wrappers=wrappers)


# ---------------------------------------------------------------------------------------------- cases

@dataclasses.dataclass
class Case:
    """Both trees, the arguments for `adapt`, and the truth: for every `my` path, the value it must receive."""

    their: object
    my: object
    kwargs: dict
    expected: dict  # my path (tuple of keys) -> array
    true_pairs: dict  # my name -> their name (None: no partner)
    my_names: dict  # my path -> name as weightbridge joins it
    their_shapes: dict
    my_shapes: dict
    port: Port
    port_is_mine: bool
    torch_order: str = "kept"  # the order of the side named the PyTorch way

    def __repr__(self):
        return "Case(\n" + self.describe() + "\n)"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))

    def describe(self):
        their_lines = [f"  {name} {shape}" for name, shape in self.their_shapes.items()]
        my_lines = [f"  {name} {shape} <- {self.true_pairs[name]}" for name, shape in self.my_shapes.items()]
        return (f"adapt kwargs: {self.kwargs}\nport ({'my' if self.port_is_mine else 'their'} side): {self.port}\n"
                f"PyTorch-named side order: {self.torch_order}\n"
                "their:\n" + "\n".join(their_lines) + "\nmy (<- true partner):\n" + "\n".join(my_lines))


def _flax_layout(value, param):
    if param.role != "weight" or param.kind == "norm":
        return value
    if param.kind == "linear":
        return value.T
    return value.transpose(tuple(range(2, value.ndim)) + (1, 0))


def _port_value(value, param, port):
    if port.layout == "flax":
        value = _flax_layout(value, param)
    if (param.kind, param.role) in port.reshaped and value.ndim == 1:
        value = value.reshape(1, 1, 1, -1)
    return value.copy()


def _port_path(param, port):
    path = list(port.root) + port.module_parts(param.module) + [port.role_name(param)]
    if port.nesting in ("collections", "flax/"):
        collection = "batch_stats" if param.role in ("running_mean", "running_var") else "params"
        path = [collection] + path
    return tuple(path)


def _ordered(entries, order, seed, sep):
    """Reorders (path, param, value) entries as a side enumerates them; `sep` joins paths for sorting."""
    rng = random.Random(seed)
    if order == "kept":
        return list(entries)
    if order == "alphabetical":
        return sorted(entries, key=lambda e: sep.join(map(str, e[0])))
    if order == "shuffled":
        # Any permutation of the leaves, as a file may hand them over.
        shuffled = list(entries)
        rng.shuffle(shuffled)
        return shuffled
    if order == "blocks_reordered":
        return _blocks_reordered(entries, rng)
    if order == "within_modules":
        # Parameters of a module in another order (bias before weight), modules in place.
        groups = {}
        for entry in entries:
            groups.setdefault(entry[0][:-1], []).append(entry)
        result = []
        for members in groups.values():
            rng.shuffle(members)
            result += members
        return result
    # Whole modules move: sibling modules in another order at every level.
    keys = {}

    def key(path):
        return tuple(keys.setdefault(path[:d + 1], rng.random()) for d in range(len(path) - 1))

    return sorted(entries, key=lambda e: key(e[0]))


def _blocks_reordered(entries, rng):
    """The blocks listed in another order than their numbers, each block's own order kept, the rest in place."""
    block_of = [next((segment.number for segment in param.module if segment.element), None) for _, param, _ in entries]
    numbers = list(dict.fromkeys(b for b in block_of if b is not None))
    moved = list(numbers)
    while len(numbers) > 1 and moved == numbers:
        rng.shuffle(moved)
    listed = iter([entry for b in moved for entry, n in zip(entries, block_of) if n == b])
    return [next(listed) if b is not None else entry for entry, b in zip(entries, block_of)]


def _flat_separator(nesting):
    """The separator of a flat tree's keys; None for a nested tree."""
    return {"flat.": ".", "flat/": "/", "flax/": "/"}.get(nesting)


def _nest(entries, nesting):
    """A tree from (path, value) entries in order; 'lists' turns numbered keys into Python lists."""
    sep = _flat_separator(nesting)
    if sep:
        return {sep.join(path): value for path, value in entries}
    root = {}
    for path, value in entries:
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    if nesting != "lists":
        return root

    def listify(node):
        if not isinstance(node, dict):
            return node
        node = {k: listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node) and sorted(int(k) for k in node) == list(range(len(node))):
            return [node[str(i)] for i in range(len(node))]
        return node

    return listify(root)


def _tree_path(path, nesting, tree):
    """The path of a leaf in the built tree (indices of the lists 'lists' made as ints)."""
    sep = _flat_separator(nesting)
    if sep:
        return (sep.join(path),)
    tree_path = []
    for part in path:
        key = int(part) if isinstance(tree, list) else part
        tree_path.append(key)
        tree = tree[key]
    return tuple(tree_path)


def _located(side, nesting, tree):
    """param -> (path in the tree, name as weightbridge joins it, value)."""
    located = {}
    for path, param, value in side:
        tree_path = _tree_path(path, nesting, tree)
        name = tree_path[0] if _flat_separator(nesting) else "/".join(map(str, tree_path))
        located[param] = (tree_path, name, value)
    return located


@st.composite
def cases(draw, port_strategy=None, formats=None, min_blocks=1, max_blocks=5, torch_orders=("kept",), port_is_mine=None):
    """A model, a port of it on one side, and the truth. formats=True passes in_format/out_format whenever the
    layouts differ; None leaves it to chance (without them, layouts must be told by the shapes). `torch_orders`:
    the orders to draw from for the side named the PyTorch way (lettered ports keep to LETTERED_ORDERS);
    `port_is_mine`: which side the port is, None to draw it."""
    params = draw(models(min_blocks=min_blocks, max_blocks=max_blocks))
    port = draw(port_strategy if port_strategy is not None else ports())
    port_is_mine = draw(st.booleans()) if port_is_mine is None else port_is_mine
    use_formats = port.layout == "flax" and (draw(st.booleans()) if formats is None else formats)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    torch_orders = [o for o in torch_orders if port.plain_numbers or o in LETTERED_ORDERS]
    torch_order = draw(st.sampled_from(torch_orders)) if torch_orders != ["kept"] else "kept"
    torch_seed = draw(st.integers(0, 2**16)) if torch_order != "kept" else 0

    torch_side, port_side = [], []
    for param in params:
        if param.role == "num_batches_tracked":
            base = rng.integers(0, 10**6, size=param.shape)
        else:
            base = rng.standard_normal(param.shape).astype(np.float32)
        torch_path = _port_path(param, TORCH)
        torch_side.append((torch_path, param, base.copy()))
        if port.role_name(param) is not None:
            port_side.append((_port_path(param, port), param, _port_value(base, param, port)))
    port_side = _ordered(port_side, port.order, port.order_seed, "." if port.nesting == "flat." else "/")
    torch_side = _ordered(torch_side, torch_order, torch_seed, ".")

    torch_tree = _nest([(path, value) for path, _, value in torch_side], "flat.")
    port_tree = _nest([(path, value) for path, _, value in port_side], port.nesting)
    torch_at = _located(torch_side, "flat.", torch_tree)
    port_at = _located(port_side, port.nesting, port_tree)

    if port_is_mine:
        their, their_at, mine, my_at = torch_tree, torch_at, port_tree, port_at
        formats = {"in_format": "pytorch", "out_format": "flax"}
    else:
        their, their_at, mine, my_at = port_tree, port_at, torch_tree, torch_at
        formats = {"in_format": "flax", "out_format": "pytorch"}
    kwargs = dict(formats) if use_formats else {}
    if any(param not in my_at for param in their_at):
        kwargs["ignore_unmatched_inputs"] = True
    if any(param not in their_at for param in my_at):
        kwargs["ignore_unmatched_outputs"] = True

    # `my` holds values of its own: an output that merely copies `my` is caught.
    def replace_values(tree):
        if isinstance(tree, dict):
            return {k: replace_values(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [replace_values(v) for v in tree]
        if tree.dtype.kind == "i":
            return rng.integers(-10**6, 0, size=tree.shape)
        return rng.standard_normal(tree.shape).astype(tree.dtype)

    mine = replace_values(mine)
    expected, true_pairs, my_names, my_shapes = {}, {}, {}, {}
    for param, (path, name, value) in my_at.items():
        my_names[path] = name
        my_shapes[name] = value.shape
        if param in their_at:
            expected[path] = value
            true_pairs[name] = their_at[param][1]
        else:
            expected[path] = _get(mine, path).copy()
            true_pairs[name] = None
    their_shapes = {name: value.shape for _, name, value in their_at.values()}
    # Enumeration order of their leaves, as weightbridge reads them.
    their_shapes = {name: their_shapes[name] for name in (n for _, n in leaves(their, their_at))}
    my_shapes = {name: my_shapes[name] for name in (n for _, n in leaves(mine, my_at))}
    return Case(their, mine, kwargs, expected, true_pairs, my_names, their_shapes, my_shapes, port, port_is_mine,
                torch_order)


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def leaves(tree, at=None, path=()):
    """(path, leaf) in enumeration order; with `at`, (path, name) instead."""
    if isinstance(tree, dict):
        items = list(tree.items())
    elif isinstance(tree, list):
        items = list(enumerate(tree))
    else:
        if at is None:
            return [(path, tree)]
        names = {p: n for p, n, _ in at.values()}
        return [(path, names[path])]
    result = []
    for key, child in items:
        result += leaves(child, at, path + (key,))
    return result


# ---------------------------------------------------------------------------------------------- fused weights

PIECE_NAMES = [("q_proj", "k_proj", "v_proj"), ("query", "key", "value"), ("q", "k", "v"), ("wq", "wk", "wv")]
# Fused names that spell the order of the pieces, and names that do not.
SPELLING_FUSED = ["qkv", "qkv_proj", "query_key_value", "Wqkv"]
SILENT_FUSED = ["in_proj", "c_attn"]


@dataclasses.dataclass
class FusedCase:
    """Attention blocks with q, k and v apart on one side and fused on the other, and the truth."""

    their: dict
    my: dict
    kwargs: dict
    expected: dict  # my path -> array
    true_pairs: dict  # my name -> their names
    my_names: dict
    fused_name: str
    experts: int
    order: str
    fused_is_mine: bool
    layout: str

    def describe(self):
        return (f"fused {self.fused_name!r} and {self.experts} experts on the {'my' if self.fused_is_mine else 'their'} side, layout {self.layout}, "
                f"separate side order {self.order}\ntheir: {[(n, v.shape) for n, v in self.their.items()]}\n"
                f"my (<- true partners): {[(n, v.shape, self.true_pairs[n]) for n, v in self.my.items()]}")


@st.composite
def fused_cases(draw):
    """Blocks of attention (q, k, v, o; k and v maybe smaller: grouped queries), an MLP and maybe a list of
    experts. One side keeps q, k, v apart in the order q, k, v, the other fuses them in that order (and
    stacks the experts, w1 before w3); the fused side may use the Flax layout. The separate side is
    enumerated as defined or alphabetically (then only a fused name that spells the order, or an
    AmbiguityError, can decide it)."""
    width = draw(st.sampled_from([4, 6, 8]))
    kv = draw(st.sampled_from([width, width // 2]))
    blocks = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    pieces = draw(st.sampled_from(PIECE_NAMES))
    fused_name = draw(st.sampled_from(SPELLING_FUSED + SILENT_FUSED))
    order = draw(st.sampled_from(["kept", "alphabetical"]))
    layout = draw(st.sampled_from(["pytorch", "flax"]))
    fused_is_mine = draw(st.booleans())
    # Mixture-of-experts blocks: a list of experts (w1, w2, w3) against stacked gate_up_proj and down_proj,
    # stacked in their own (PyTorch) layout.
    experts = draw(st.sampled_from([0, 2, 3])) if layout == "pytorch" else 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    separate, fused, truth = {}, {}, {}  # truth: fused name -> separate names in concatenation order

    def kernel(value):
        return value.T.copy() if layout == "flax" and value.ndim == 2 else value

    weight_name = "kernel" if layout == "flax" else "weight"
    for b in range(blocks):
        roles = [("weight", (width, width), (kv, width))] + ([("bias", (width,), (kv,))] if bias else [])
        for role, q_shape, kv_shape in roles:
            values = [rng.standard_normal(shape).astype(np.float32) for shape in (q_shape, kv_shape, kv_shape)]
            names = [f"blocks.{b}.attn.{piece}.{role}" for piece in pieces]
            separate.update(zip(names, values))
            fused_key = f"layers/{b}/attention/{fused_name}/{weight_name if role == 'weight' else 'bias'}"
            fused[fused_key] = kernel(np.concatenate(values))
            truth[fused_key] = names
        for name, shape in (("attn.o_proj", (width, width)), ("mlp.fc1", (2 * width, width)), ("mlp.fc2", (width, 2 * width))):
            value = rng.standard_normal(shape).astype(np.float32)
            separate[f"blocks.{b}.{name}.weight"] = value
            fused_key = f"layers/{b}/{name.replace('.', '/').replace('o_proj', 'out')}/{weight_name}"
            fused[fused_key] = kernel(value.copy())
            truth[fused_key] = [f"blocks.{b}.{name}.weight"]
        if experts:
            hidden = 3 * width
            pieces_of = {"w1": (hidden, width), "w2": (width, hidden), "w3": (hidden, width)}
            values = {(e, w): rng.standard_normal(shape).astype(np.float32) for e in range(experts) for w, shape in pieces_of.items()}
            for (e, w), value in values.items():
                separate[f"blocks.{b}.moe.experts.{e}.{w}.weight"] = value
            gate_up, down = f"layers/{b}/moe/experts/gate_up_proj", f"layers/{b}/moe/experts/down_proj"
            fused[gate_up] = np.stack([np.concatenate([values[(e, "w1")], values[(e, "w3")]]) for e in range(experts)])
            fused[down] = np.stack([values[(e, "w2")] for e in range(experts)])
            truth[gate_up] = [f"blocks.{b}.moe.experts.{e}.{w}.weight" for e in range(experts) for w in ("w1", "w3")]
            truth[down] = [f"blocks.{b}.moe.experts.{e}.w2.weight" for e in range(experts)]
    if order == "alphabetical":
        separate = dict(sorted(separate.items()))

    if fused_is_mine:
        their, mine = separate, fused
        expected = {(name,): value for name, value in fused.items()}
        true_pairs = {name: tuple(truth[name]) for name in fused}
    else:
        their, mine = fused, separate
        expected = {(name,): value for name, value in separate.items()}
        true_pairs = {}
        for fused_key, names in truth.items():
            for name in names:
                true_pairs[name] = (fused_key,)
    mine = {name: rng.standard_normal(value.shape).astype(np.float32) for name, value in mine.items()}
    my_names = {(name,): name for name in mine}
    return FusedCase(their, mine, {}, expected, true_pairs, my_names, fused_name, experts, order, fused_is_mine, layout)
