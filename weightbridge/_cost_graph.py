"""Build the cost graph: one node per leaf, one edge per candidate pair, costs from named features."""

import math
from collections import Counter, defaultdict

import networkx as nx

from . import _names
from ._formats import format_permutation, weight_kind
from ._transforms import candidate_transforms

# How much each feature weighs in an edge's cost. Every feature lies in [0, 1].
FEATURE_WEIGHTS = {
    "leaf_name": 3.0,
    "module_name": 1.0,
    "block_index": 1.0,
    "order": 4.0,
    "layout_change": 1.0,
}
# The tie-break grows as the square of the rank difference up to this bound.
MAX_ORDER_RANK = 64
# Leaving a leaf without a partner costs more than any edge, so the most pairs win first.
UNMATCHED_COST = sum(FEATURE_WEIGHTS.values())


def my_node(i):
    return ("my", i)


def their_node(j):
    return ("their", j)


def order_is_informative(leaves):
    """Enumeration order is evidence unless it is merely alphabetical."""
    names = [leaf.name for leaf in leaves]
    return len(names) > 2 and names != sorted(names)


def _normalised_indices(leaves):
    """Block indices ranked among their siblings: 'layer1.0.conv3' and 'stages.0.layers.0.layer.2' both give (0, 0, 2)."""
    parsed = [_names.numbers(leaf.parts) for leaf in leaves]
    seen = defaultdict(set)
    keys_of = []
    for values, template in parsed:
        pieces = template.split("{}")
        keys = [("{}".join(pieces[: k + 1]), values[:k]) for k in range(len(values))]
        for key, value in zip(keys, values):
            seen[key].add(value)
        keys_of.append(keys)
    ranks = {key: {v: r for r, v in enumerate(sorted(values))} for key, values in seen.items()}
    return [tuple(ranks[key][v] for key, v in zip(keys, values)) for (values, _), keys in zip(parsed, keys_of)]


def _index_distance(a, b):
    if not a and not b:
        return 0.0
    if not a or not b:
        return 0.5
    n = min(len(a), len(b))
    mismatches = sum(x != y for x, y in zip(a, b))
    return min(1.0, mismatches / n + 0.25 * abs(len(a) - len(b)))


def _weighted_jaccard(a, b, weight):
    union = a | b
    if not union:
        return 1.0
    return sum(weight[t] for t in a & b) / sum(weight[t] for t in union)


class LeafEvidence:
    """What the names, indices and order of one side's leaves say, computed once per side."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.leaf_name = [_names.leaf_name(leaf.parts) for leaf in leaves]
        self.leaf_tokens = [_names.leaf_tokens(leaf.parts) for leaf in leaves]
        self.module_tokens = [set(_names.module_tokens(leaf.parts)) for leaf in leaves]
        self.indices = _normalised_indices(leaves)
        self.ordered = order_is_informative(leaves)
        # Position among the leaves of the same kind (weights among weights, biases among biases):
        # it survives implementations that keep some kinds apart (Flax's batch_stats collection).
        # On a grid of 1/1000, the solver's resolution, sums of position differences are exact, so
        # assignments that order cannot tell apart tie exactly and order-preservation decides.
        # Half of it is the position among all leaves, half among leaves of the same kind.
        by_kind = defaultdict(list)
        for k, kind in enumerate(self.leaf_name):
            by_kind[kind].append(k)
        total = max(len(leaves) - 1, 1)
        self.position = [leaf.index / total / 2 for leaf in leaves]
        for members in by_kind.values():
            n = max(len(members) - 1, 1)
            for rank, k in enumerate(members):
                self.position[k] = round((self.position[k] + rank / n / 2) * 1000) / 1000


def features(my, i, their, j, token_weight, transform):
    """The named features of pairing my leaf i with their leaf j, each in [0, 1]."""
    if my.leaf_name[i] == their.leaf_name[j]:
        leaf = 0.0
    else:
        leaf = 1.0 - _weighted_jaccard(my.leaf_tokens[i], their.leaf_tokens[j], defaultdict(lambda: 1.0))
    return {
        "leaf_name": leaf,
        "module_name": 1.0 - _weighted_jaccard(my.module_tokens[i], their.module_tokens[j], token_weight),
        "block_index": 0.0 if my.ordered and their.ordered else _index_distance(my.indices[i], their.indices[j]),
        "order": abs(my.position[i] - their.position[j]) if my.ordered and their.ordered else 0.0,
        "layout_change": transform.price,
    }


def edge_cost(feature_values):
    return sum(FEATURE_WEIGHTS[name] * value for name, value in feature_values.items())


def _token_weights(my, their):
    """Rare module tokens say more than ones every leaf carries (inverse document frequency)."""
    counts = Counter()
    for tokens in my.module_tokens + their.module_tokens:
        counts.update(tokens)
    total = len(my.module_tokens) + len(their.module_tokens)
    return defaultdict(lambda: math.log(total + 1), {t: math.log((total + 1) / c) + 1e-3 for t, c in counts.items()})


def allowed_by_hints(my_leaf, their_leaf, hints):
    """A hint (a, b) holds when `my` contains a exactly when its partner contains b."""
    their_names = (their_leaf.name,) + their_leaf.aliases
    return all((a in my_leaf.name) == any(b in n for n in their_names) for a, b in hints)


def build_cost_graph(their_leaves, my_leaves, *, their_format=None, my_format=None, hints=()):
    """The bipartite cost graph the solver sees.

    Nodes are ``("my", i)`` and ``("their", j)`` with the leaf's name, shape and dtype. An edge
    exists where the dtypes are of one kind and a layout transform makes the shapes equal; it
    carries ``cost``, the individual feature values, ``transform`` (an einx expression) and
    ``layouts`` (every layout that fits; more than one means the axis order is still open).
    """
    my, their = LeafEvidence(my_leaves), LeafEvidence(their_leaves)
    token_weight = _token_weights(my, their)
    graph = nx.Graph()
    for i, leaf in enumerate(my_leaves):
        graph.add_node(my_node(i), side="my", name=leaf.name, shape=leaf.shape, dtype=leaf.dtype, bipartite=0)
    for j, leaf in enumerate(their_leaves):
        graph.add_node(their_node(j), side="their", name=leaf.name, shape=leaf.shape, dtype=leaf.dtype, aliases=leaf.aliases, bipartite=1)

    by_size = defaultdict(list)
    for j, leaf in enumerate(their_leaves):
        by_size[(leaf.size, leaf.dtype_kind)].append(j)
    transform_cache = {}
    for i, my_leaf in enumerate(my_leaves):
        for j in by_size.get((my_leaf.size, my_leaf.dtype_kind), ()):
            their_leaf = their_leaves[j]
            if hints and not allowed_by_hints(my_leaf, their_leaf, hints):
                continue
            kind = weight_kind(their_leaf.parts, my_leaf.parts)
            permutation = format_permutation(their_format, my_format, kind, len(their_leaf.shape)) if kind else None
            formats_given = their_format is not None and my_format is not None
            key = (their_leaf.shape, my_leaf.shape, permutation, formats_given)
            if key not in transform_cache:
                found = candidate_transforms(their_leaf.shape, my_leaf.shape, permutation)
                if formats_given and permutation is None:
                    found = [t for t in found if t.layout == "keep"]
                transform_cache[key] = found
            transforms = transform_cache[key]
            if not transforms:
                continue
            transform = min(transforms, key=lambda t: t.price)
            values = features(my, i, their, j, token_weight, transform)
            graph.add_edge(
                my_node(i), their_node(j),
                cost=edge_cost(values), transform=transform.expression, layouts=tuple(transforms), **values,
            )
    if my.ordered and their.ordered:
        _add_local_order(graph)
    return graph


def _add_local_order(graph):
    """Sets ``order_rank``, the squared difference of ranks inside each component, the solver's tie-break.

    The global position difference is linear, and under a linear cost an order-preserving
    assignment and a crossing one can cost the same; the strictly convex tie-break makes the
    order-preserving one win, so order-only evidence is not reported as a tie.
    """
    for component in nx.connected_components(graph):
        mine = sorted(n for n in component if n[0] == "my")
        theirs = sorted(n for n in component if n[0] == "their")
        if len(mine) < 2 or len(theirs) < 2:
            continue
        my_rank = {n: k for k, n in enumerate(mine)}
        their_rank = {n: k for k, n in enumerate(theirs)}
        for u, v, data in graph.subgraph(component).edges(data=True):
            m, t = (u, v) if u[0] == "my" else (v, u)
            data["order_rank"] = min((my_rank[m] - their_rank[t]) ** 2, MAX_ORDER_RANK)
