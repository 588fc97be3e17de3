"""Build the cost graph: one node per leaf, one edge per candidate pair, costs from named features."""

import dataclasses
import functools
import math
from collections import Counter, defaultdict

import networkx as nx

from . import _names
from ._features import (
    CONFIDENT_MARGIN, COST_NOISE, FEATURE_WEIGHTS, edge_cost, features, index_distance, my_node, path_units, raw_units, reshape_is_evidenced, suffix_distance, their_node,
)
from ._formats import format_permutation, weight_kind
from ._leaves import is_counter, order_is_informative, order_unlike_definition
from ._fusion import add_group_edges, fused_layout_parts, is_group, order_is_hinted
from ._structure import anchors_between
from ._transforms import candidate_transforms, compatible, layout_kind, proves_layout

# Enumeration order is evidence only where the leaves named alike on both sides come in nearly
# the same order; otherwise modules were defined in another order and names must decide.
MIN_CONCORDANCE = 0.95


@functools.lru_cache(maxsize=65536)
def _prefixes(template):
    """The template up to each of its numbers: 'layer{}.{}.conv{}' -> 'layer{}', 'layer{}.{}', 'layer{}.{}.conv{}'."""
    pieces = template.split("{}")
    return tuple("{}".join(pieces[: k + 1]) for k in range(len(pieces) - 1))


def normalised_indices(leaves):
    """Block indices ranked among their siblings, with the number of siblings: 'layer1.0.conv3' and
    'stages.0.layers.0.layer.2' both give ((0, 4), (0, 3), (2, 3))."""
    parsed = [_names.numbers(leaf.parts) for leaf in leaves]
    seen = defaultdict(set)
    keys_of = []
    for values, template in parsed:
        keys = [(prefix, values[:k]) for k, prefix in enumerate(_prefixes(template))]
        for key, value in zip(keys, values):
            seen[key].add(value)
        keys_of.append(keys)
    # A number without siblings ('norm1' alone) tells nothing: it becomes None.
    # Each number becomes (rank, number of siblings).
    ranks = {key: {v: ((r, len(values)) if len(values) > 1 else None) for r, v in enumerate(sorted(values))} for key, values in seen.items()}
    return [tuple(ranks[key][v] for key, v in zip(keys, values)) for (values, _), keys in zip(parsed, keys_of)]


def _interned(values):
    """Equal values get equal small integers, which are quick to hash as keys of a pair."""
    ids = {}
    return [ids.setdefault(value, len(ids)) for value in values]


@dataclasses.dataclass(frozen=True)
class Folding:
    """What each leaf of a folded problem stands for, as the unfolded problem sees its first member:
    ``counts``, how many leaves it stands for (only equal counts pair); ``ranks``, its block indices
    ranked among all leaves; ``positions``, its enumeration position among all leaves;
    ``unlike_definition``, why the whole side's enumeration order is no evidence (None where it is);
    ``member_parents``, the modules of the leaves it stands for, in the order members pair."""

    counts: list
    ranks: list
    positions: list
    unlike_definition: str | None
    member_parents: list

    @property
    def ordered(self):
        return self.unlike_definition is None


@dataclasses.dataclass(frozen=True)
class WholeSide:
    """What all of one side's leaves say of each leaf, computed once however the side is folded: its
    block indices ranked among all leaves, its enumeration position, and why the order is no evidence
    (`order_unlike_definition`; None where it is)."""

    ranks: list
    positions: list
    unlike_definition: str | None


def whole_side(leaves):
    return WholeSide(normalised_indices(leaves), enumeration_positions(leaves, [_names.leaf_name(leaf.parts) for leaf in leaves]),
                     order_unlike_definition(leaves))


def folding(whole, leaves, templates):
    """The Folding of a side's `templates` (`leaves`: the whole side, `whole`: its WholeSide)."""
    firsts = [t.members[0] for t in templates]
    return Folding([t.count for t in templates], [whole.ranks[k] for k in firsts], [whole.positions[k] for k in firsts],
                   whole.unlike_definition, [tuple(leaves[k].parts[:-1] for k in t.members) for t in templates])


def enumeration_positions(leaves, kinds):
    """Half of the position is among all leaves, half among leaves of the same kind (weights among
    weights, biases among biases): the latter survives implementations that keep some kinds apart
    (Flax's batch_stats collection). On a grid of 1/1000, the solver's resolution, sums of position
    differences are exact, so assignments that order cannot tell apart tie exactly."""
    total = max(len(leaves) - 1, 1)
    positions = [leaf.index / total / 2 for leaf in leaves]
    by_kind = defaultdict(list)
    for k, kind in enumerate(kinds):
        by_kind[kind].append(k)
    for members in by_kind.values():
        n = max(len(members) - 1, 1)
        for rank, k in enumerate(members):
            positions[k] = round((positions[k] + rank / n / 2) * 1000) / 1000
    return positions


class LeafEvidence:
    """What the names, indices and order of one side's leaves say, computed once per side; for a folded
    problem, `folding` gives the indices and order of the leaves its leaves stand for."""

    def __init__(self, leaves, folding=None):
        self.leaves = leaves
        self.leaf_name = [_names.leaf_name(leaf.parts) for leaf in leaves]
        self.leaf_tokens = [_names.leaf_tokens(leaf.parts) for leaf in leaves]
        # A path's words count wherever its nesting puts them: timm's `attn.q_bias` says `q` as much as
        # `attention.q_proj.bias` does (the parameter kind itself is the leaf_name feature's).
        self.module_tokens = [set(_names.module_tokens(leaf.parts)) | (tokens - _names.PARAMETER_KINDS)
                              for leaf, tokens in zip(leaves, self.leaf_tokens)]
        ranks = folding.ranks if folding else normalised_indices(leaves)
        evidence = [_index_evidence(leaf, leaf_ranks) for leaf, leaf_ranks in zip(leaves, ranks)]
        self.module_sequence = [units for units, _ in evidence]
        self.indices = [indices for _, indices in evidence]
        self.ordered = folding.ordered if folding else order_is_informative(leaves)
        # Leaves that share a kind, a module or indices share the features that depend on them.
        self.kind_id = _interned(self.leaf_name)
        self.module_id = _interned((frozenset(tokens), sequence) for tokens, sequence in zip(self.module_tokens, self.module_sequence))
        self.index_id = _interned(self.indices)
        self.position = folding.positions if folding else enumeration_positions(leaves, self.leaf_name)
        self.count = folding.counts if folding else [1] * len(leaves)


def index_agreement(my_leaf, my_ranks, their_leaf, their_ranks):
    """How well the block indices of two leaves agree: their ``name_suffix`` and ``block_index``
    features, given each leaf's ranked indices (from ``normalised_indices``)."""
    (my_units, my_indices), (their_units, their_indices) = _index_evidence(my_leaf, my_ranks), _index_evidence(their_leaf, their_ranks)
    return suffix_distance(my_units, their_units), index_distance(my_indices, their_indices)


def _index_evidence(leaf, ranks):
    """A leaf's module units and the ranks of its numbers that have siblings, from its ranked indices."""
    return path_units(leaf.parts[:-1], ranks), tuple(r for r in ranks if r is not None)


def _inversions(sequence):
    """The number of pairs out of order in `sequence` (merge sort)."""
    if len(sequence) < 2:
        return sequence, 0
    middle = len(sequence) // 2
    left, a = _inversions(sequence[:middle])
    right, b = _inversions(sequence[middle:])
    merged, count, i, j = [], a + b, 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            count += len(left) - i
            j += 1
    return merged + left[i:] + right[j:], count


def _name_anchors(my, their):
    """Pairs of leaves named alike on both sides: equal paths, or one path ends with the other in at least
    two units (so 'params/blocks/0/norm1' matches 'blocks.0.norm1'), equal parameter names, and neither
    has another such partner. Numbers are compared by value, and apart from that by rank among as many
    siblings ('conv1' of conv1, conv2 is 'conv_0' of conv_0, conv_1); a leaf the two readings give
    different partners is no anchor."""
    found = {}
    for spelling in (raw_units, _ranked_units):
        for i, j in _anchors_spelled(my, their, spelling):
            found.setdefault(i, set()).add(j)
    anchors = [(i, js.pop()) for i, js in found.items() if len(js) == 1]
    partners = Counter(j for _, j in anchors)
    return [(i, j) for i, j in anchors if partners[j] == 1]


def _ranked_units(units):
    """Units with each number as its rank among its siblings, to look up names numbered differently."""
    return tuple(tuple(x[1:] if isinstance(x, tuple) else x for x in unit) for unit in units)


def _anchors_spelled(my, their, spelling):
    def index(side):
        by_full, by_suffix = defaultdict(list), defaultdict(list)
        for k, (units, leaf) in enumerate(zip(side.module_sequence, side.leaf_name)):
            units = spelling(units)
            by_full[(units, leaf)].append(k)
            for start in range(len(units) + 1):
                by_suffix[(units[start:], leaf)].append(k)
        return by_full, by_suffix

    def partners(side, k, other_full, other_suffix):
        units, leaf = spelling(side.module_sequence[k]), side.leaf_name[k]
        found = set(other_full.get((units, leaf), ()))
        if len(units) >= 2:
            found.update(other_suffix.get((units, leaf), ()))
            for start in range(1, len(units) - 1):
                found.update(other_full.get((units[start:], leaf), ()))
        return found

    my_full, my_suffix = index(my)
    their_full, their_suffix = index(their)
    anchors = []
    for i in range(len(my.leaves)):
        found = partners(my, i, their_full, their_suffix)
        if len(found) == 1:
            j = found.pop()
            if partners(their, j, my_full, my_suffix) == {i}:
                anchors.append((i, j))
    return anchors


def _shape_anchors(my, their):
    """Pairs of leaves that are the only ones of their size and kind of number on both sides: whatever
    the names say, they can only be each other's partner."""
    def classes(side):
        found = defaultdict(list)
        for k, leaf in enumerate(side.leaves):
            found[(leaf.size, leaf.dtype_kind)].append(k)
        return found

    mine, theirs = classes(my), classes(their)
    return [(members[0], theirs[key][0]) for key, members in mine.items() if len(members) == 1 and len(theirs.get(key, ())) == 1]


def order_concordance(my, their):
    """How far the two enumeration orders agree on the leaves that must be partners: named alike on
    both sides, or alone of their size (Kendall's concordance: 1 = same order). With fewer than two
    such anchors it is taken as 1."""
    anchors = dict(_shape_anchors(my, their))
    anchors.update(_name_anchors(my, their))
    anchors = sorted(anchors.items())
    if len(anchors) < 2:
        return 1.0
    _, inversions = _inversions([j for _, j in anchors])
    return 1.0 - inversions / (len(anchors) * (len(anchors) - 1) / 2)


def _token_weights(my, their):
    """Rare module tokens say more than ones every leaf carries (inverse document frequency), counted
    over the leaves that folded leaves stand for (a template's members share its module tokens)."""
    counts = Counter()
    for side in (my, their):
        for tokens, count in zip(side.module_tokens, side.count):
            counts.update({token: count for token in tokens})
    total = sum(my.count) + sum(their.count)
    return defaultdict(lambda: math.log(total + 1), {t: math.log((total + 1) / c) + 1e-3 for t, c in counts.items()})


def allowed_by_hints(my_leaf, their_leaf, hints):
    """A hint (a, b) holds when `my` contains a exactly when its partner contains b (hints on the order
    inside a concatenation concern fused groups only)."""
    their_names = (their_leaf.name,) + their_leaf.aliases
    return all((a in my_leaf.name) == any(b in n for n in their_names) for a, b in hints if not order_is_hinted((a, b)))


def build_cost_graph(their_leaves, my_leaves, *, their_format=None, my_format=None, hints=(), my_folding=None, their_folding=None,
                     modules=None):
    """The bipartite cost graph the solver sees.

    Nodes are ``("my", i)`` and ``("their", j)`` with the leaf's name, shape and dtype. An edge
    exists where the dtypes are of one kind and a layout transform makes the shapes equal; it
    carries ``cost``, the individual feature values, ``transform`` (an einx expression) and
    ``layouts`` (every layout that fits; more than one means the axis order is still open).
    When leaves stand for templates, ``my_folding``/``their_folding`` (:class:`Folding`) say what
    they stand for; node attribute ``instances`` is how many leaves, and only equal counts are joined.
    ``modules`` (:class:`weightbridge._structure.ModulePairs`, per leaf) joins only leaves owned by the
    same pair of matched modules; inside a pair that holds matched modules, ``order`` compares the
    leaves' slots among them instead of their global positions.
    """
    my_counts = my_folding.counts if my_folding else [1] * len(my_leaves)
    their_counts = their_folding.counts if their_folding else [1] * len(their_leaves)
    my, their = LeafEvidence(my_leaves, my_folding), LeafEvidence(their_leaves, their_folding)
    if my.ordered and their.ordered and order_concordance(my, their) < MIN_CONCORDANCE:
        my.ordered = their.ordered = False
    token_weight = _token_weights(my, their)
    graph = nx.Graph()
    for i, leaf in enumerate(my_leaves):
        graph.add_node(my_node(i), side="my", name=leaf.name, shape=leaf.shape, dtype=leaf.dtype, instances=my_counts[i], bipartite=0)
    for j, leaf in enumerate(their_leaves):
        graph.add_node(their_node(j), side="their", name=leaf.name, shape=leaf.shape, dtype=leaf.dtype, aliases=leaf.aliases,
                       instances=their_counts[j], bipartite=1)

    by_size = defaultdict(list)
    for j, leaf in enumerate(their_leaves):
        by_size[(leaf.size, leaf.dtype_kind, their_counts[j])].append(j)
    transform_cache, seen = {}, ({}, {}, {})
    for i, my_leaf in enumerate(my_leaves):
        for j in by_size.get((my_leaf.size, my_leaf.dtype_kind, my_counts[i]), ()):
            their_leaf = their_leaves[j]
            if hints and not allowed_by_hints(my_leaf, their_leaf, hints):
                continue
            if modules is not None and modules.my_owner[i] != modules.their_owner[j]:
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
            values = features(my, i, their, j, token_weight, transform, seen)
            if transform.price > 0 and not reshape_is_evidenced(values, my.leaf_tokens[i], their.leaf_tokens[j]):
                continue
            if modules is not None and my.ordered and their.ordered and modules.anchors[modules.my_owner[i]]:
                slots_differ = len(modules.my_slot[i] ^ modules.their_slot[j])
                if slots_differ:
                    values["order"] = slots_differ / modules.anchors[modules.my_owner[i]]
            graph.add_edge(
                my_node(i), their_node(j),
                cost=edge_cost(values), transform=transform.expression, layouts=tuple(transforms), **values,
            )
    graph.graph["ordered"] = my.ordered and their.ordered
    graph.graph["node_tolerance"] = {}
    graph.graph["hints"] = tuple(hint for hint in hints if not order_is_hinted(hint))
    if my.ordered and their.ordered and modules is not None:
        _drop_displaced_order(graph, modules, my, their)
        _drop_order_against_anchors(graph, modules)
    if my.ordered and their.ordered:
        _add_local_order(graph)
    add_group_edges(graph, my, their, token_weight, hints, modules)
    return graph


def layout_evidence(pairs, graph, my_leaves, their_leaves):
    """For every (kind, enclosing module), the layouts that pairs with a single fitting layout prove."""
    evidence = defaultdict(set)
    for m, t in pairs:
        if is_group(m) or is_group(t):
            continue
        layouts = graph.edges[m, t]["layouts"]
        if len(layouts) != 1 or not proves_layout(their_leaves[t[1]].shape):
            continue
        parts = my_leaves[m[1]].parts
        for depth in range(len(parts)):
            evidence[(layout_kind(parts), parts[:depth])].add(layouts[0].layout)
    return evidence


def nearest_evidence(evidence, parts):
    """The evidence of the nearest enclosing module that has any, walking up from the leaf."""
    kind = layout_kind(parts)
    for depth in range(len(parts) - 1, -1, -1):
        seen = evidence.get((kind, parts[:depth]))
        if seen:
            yield seen


def add_structure(graph, my_leaves, their_leaves, assignment, my_folding=None, their_folding=None):
    """Sets the features that need a first solution, from its confident pairs (margin >= CONFIDENT_MARGIN):
    ``structure``, a candidate costs more when the confident partners of its module's other weights
    sit in other modules than the candidate, on either side (schema matching's structural context,
    cf. Cupid and Similarity Flooding); ``layout_consistency``, a candidate costs more when no layout it fits
    agrees with the layouts that untied weights of its kind around it prove (for a fused group too,
    whose cost counts every member). On a folded problem every member pair of two paired templates says
    where its module's partner sits: a block that templates leave leaf by leaf still sees its siblings'
    partners. Returns whether any edge changed."""
    def parent(leaf):
        return leaf.parts[:-1]

    one_to_one = [(m, t) for m, t in assignment.pairs.items() if not (is_group(m) or is_group(t))]
    confident = [(m, t) for m, t in one_to_one if assignment.margins[m] >= CONFIDENT_MARGIN]
    # For each module, where the confident partners of its weights sit, counted, so that a weight's
    # own pairing can be left out: only its module's other weights speak for or against a candidate.
    partner_parents, their_partner_parents = _partner_modules(
        [_places(m, t, my_leaves, their_leaves, my_folding, their_folding) for m, t in confident])
    own = {}
    for m, t in confident:
        own[m], own[t] = parent(their_leaves[t[1]]), parent(my_leaves[m[1]])

    def others(counts, node):
        return {where for where, count in counts.items() if count - (own.get(node) == where) > 0}

    # Any untied pair may prove a layout: a wrong partner of the same kind would prove the same one.
    untied = [(m, t) for m, t in one_to_one if assignment.margins[m] > 0]
    evidence = layout_evidence(untied, graph, my_leaves, their_leaves)
    changed, incoherent = False, []
    for u, v, data in graph.edges(data=True):
        if "group" in data:
            group = data["group"]
            if _splits_a_module(group, my_leaves, their_leaves, (my_folding, their_folding), (partner_parents, their_partner_parents)):
                incoherent.append((u, v))
                continue
            my_leaf = my_leaves[group.partner if group.side == "their" else group.members[0]]
            their_shape = their_leaves[group.members[0] if group.side == "their" else group.partner].shape
            values, scale = {"structure": 0.0, "layout_consistency": 0.0}, len(group.members)
            my_parts = fused_layout_parts(my_leaf.parts)
        else:
            m, t = (u, v) if u[0] == "my" else (v, u)
            my_leaf, their_shape = my_leaves[m[1]], their_leaves[t[1]].shape
            my_parts = my_leaf.parts
            my_parent, their_parent = parent(my_leaf), parent(their_leaves[t[1]])
            known, their_known = others(partner_parents[my_parent], m), others(their_partner_parents[their_parent], t)
            elsewhere = (known and their_parent not in known) or (their_known and my_parent not in their_known)
            values, scale = {"structure": 1.0 if elsewhere else 0.0, "layout_consistency": 0.0}, 1
        if proves_layout(their_shape):
            seen = next(nearest_evidence(evidence, my_parts), set())
            if seen and not any(all(compatible(l.layout, e) for e in seen) for l in data["layouts"]):
                values["layout_consistency"] = 1.0
        if any(data[k] != value for k, value in values.items()):
            data.update(values)
            data["cost"] = scale * edge_cost({name: data[name] for name in FEATURE_WEIGHTS})
            changed = True
    graph.remove_edges_from(incoherent)
    return changed or bool(incoherent)


def _places(m, t, my_leaves, their_leaves, my_folding, their_folding):
    """The (my module, their module) of each leaf pair that the chosen pair `(m, t)` stands for."""
    return list(zip(_member_parents(my_leaves, my_folding, m[1]), _member_parents(their_leaves, their_folding, t[1])))


def _partner_modules(places):
    """For each module of either side, the modules its weights' partners sit in, counted: `places` holds
    the (my module, their module) pairs of the chosen leaf pairs, a list per chosen pair."""
    counted = Counter(place for pair_places in places for place in pair_places)
    mine, theirs = defaultdict(dict), defaultdict(dict)
    for (my_parent, their_parent), count in counted.items():
        mine[my_parent][their_parent] = count
        theirs[their_parent][my_parent] = count
    return mine, theirs


def _member_parents(leaves, side_folding, k):
    """The module of leaf `k`, or on a folded side the module of each leaf its template stands for."""
    return side_folding.member_parents[k] if side_folding else (leaves[k].parts[:-1],)


def drop_split_modules(graph, my_leaves, their_leaves, assignment, my_folding=None, their_folding=None):
    """Removes every chosen one-to-one pair that splits a module on both sides: the other weights of its
    `my` module all pair into modules unrelated to its `their` one, and the other weights of its `their`
    module all pair into modules unrelated to its `my` one (a norm's running mean taken by the neighbouring
    norm because a missing weight shifted the order, while its scale and bias pair at home). However
    cheap such a pair, the solution itself says where both modules went; the leaf is left to its own
    module's partner, or without one. Only decided pairs count and go: a tie's arbitrary pick proves
    nothing, and removing its edges would turn the tie into a confident answer. A pair a hint names neither
    goes nor counts: hints are the user's word, and a module they split is split on purpose. Returns
    whether any edge was removed."""
    tied = set(assignment.alternatives) | {node for changed in assignment.alternatives.values() for node in changed}
    hints = graph.graph.get("hints", ())

    def hinted(m, t):
        their_names = (their_leaves[t[1]].name,) + their_leaves[t[1]].aliases
        return any(a in my_leaves[m[1]].name or any(b in n for n in their_names) for a, b in hints)

    pairs = [(m, t) for m, t in assignment.pairs.items()
             if not (is_group(m) or is_group(t) or m in tied) and not hinted(m, t)]
    instances = {(m, t): _places(m, t, my_leaves, their_leaves, my_folding, their_folding) for m, t in pairs}
    partner_parents, their_partner_parents = _partner_modules(instances.values())

    def elsewhere(counts, own, where):
        if len(counts) == 1 and own in counts:
            return False  # the module's weights pair only into `own`, which is `where`
        others = [module for module, count in counts.items() if count - (module == own) > 0]
        return bool(others) and not any(_related(module, where) for module in others)

    split = [(m, t) for (m, t), places in instances.items()
             if any(elsewhere(partner_parents[my_parent], their_parent, their_parent)
                    and elsewhere(their_partner_parents[their_parent], my_parent, my_parent) for my_parent, their_parent in places)]
    graph.remove_edges_from(split)
    return bool(split)


def _related(a, b):
    """Whether one module holds the other (or they are one)."""
    return a[:len(b)] == b or b[:len(a)] == a


def _splits_a_module(group, my_leaves, their_leaves, foldings, partners):
    """Whether a fused group takes a member whose module's other weights confidently pair into a module
    that neither holds nor sits inside the group's partner: a projection whose bias pairs with the output
    projection is no piece of ``qkv``. Such a group is no candidate, however cheap (a group beats leaving
    leaves without a partner)."""
    my_folding, their_folding = foldings
    if group.side == "their":
        member_side, member_folding, partner_side, partner_folding, where = their_leaves, their_folding, my_leaves, my_folding, partners[1]
    else:
        member_side, member_folding, partner_side, partner_folding, where = my_leaves, my_folding, their_leaves, their_folding, partners[0]
    partner_parents = _member_parents(partner_side, partner_folding, group.partner)
    for member in group.members:
        for member_parent, partner_parent in zip(_member_parents(member_side, member_folding, member), partner_parents):
            known = where.get(member_parent)
            if known and not any(_related(module, partner_parent) for module in known):
                return True
    return False


# Decisions that names and indices alone make are ties up to this (the tolerance without order).
DISPLACED_TOLERANCE = 0.25


def _drop_displaced_order(graph, modules, my, their):
    """Enumeration order stops being evidence among the leaves of one size and kind (weight, bias, ...) inside one pair of matched modules
    when they sit in other slots among the matched modules on the two sides, more than a missing leaf
    explains (neither side's slots hold at most what the other's do): one implementation defines them
    elsewhere (torchvision's RegNet defines the shortcut before the main path, timm after it). Their edges
    lose the order feature, and decisions among them need the margin that names alone need."""
    def key(side, owners, k):
        leaf = side.leaves[k]
        return owners[k], leaf.size, leaf.dtype_kind, side.count[k], side.leaf_name[k]

    def slots(side, owners, slot_of):
        found = defaultdict(Counter)
        for k in range(len(side.leaves)):
            found[key(side, owners, k)][slot_of[k]] += 1
        return found

    mine, theirs = slots(my, modules.my_owner, modules.my_slot), slots(their, modules.their_owner, modules.their_slot)
    displaced = {key for key in mine.keys() & theirs.keys()
                 if not (mine[key] <= theirs[key] or theirs[key] <= mine[key])}
    if displaced:
        _drop_order(graph, lambda m: key(my, modules.my_owner, m[1]) in displaced)


def _drop_order_against_anchors(graph, modules):
    """Enumeration order stops being evidence for a leaf whose candidates it ranks against the leaf anchors
    (`weightbridge._structure._leaf_anchors`): in a pair of modules that owns its leaves unevenly, a leaf's
    share of all leaves moves with what one side lacks (Mixtral's experts listed on one side and stacked on
    the other, `wq` missing: `wo` sat nearer `q_proj` than `o_proj`); its place among the anchors does not.
    Order speaks against the anchors where it prefers a candidate with more anchor differences than another,
    also after that candidate's own partner by the anchors takes the other in exchange (a swap that order
    does not prefer is no conflict: the norms of one block are each nearer the other's partner by share, but
    not both at once). Order is dropped for those candidates, and names decide or the tie is reported."""
    noise = COST_NOISE / FEATURE_WEIGHTS["order"]

    def before(n):
        return (modules.my_before if n[0] == "my" else modules.their_before)[n[1]]

    def leaf_edges(n):
        return {v: data["order"] for _, v, data in graph.edges(n, data=True) if "group" not in data}

    displaced = set()
    for n in graph.nodes:
        if before(n) is None:
            continue
        order = leaf_edges(n)
        if len(order) < 2:
            continue
        differ = {v: anchors_between(before(n), before(v)) for v in order}
        fewest = min(differ.values())
        b = min(order, key=order.get)
        if differ[b] == fewest:
            continue
        a = min((v for v in order if differ[v] == fewest), key=order.get)
        # What order gains by giving n the candidate b, and b's partner by the anchors the candidate a.
        others = {x: o for x, o in leaf_edges(b).items() if x != n}
        fewest_of_b = min((anchors_between(before(b), before(x)) for x in others), default=None)
        gains = [order[a] + others[x] - order[b] - graph.edges[x, a]["order"]
                 for x in others if anchors_between(before(b), before(x)) == fewest_of_b and graph.has_edge(x, a)]
        if min(gains, default=order[a] - order[b]) > noise:
            displaced.update([n] if n[0] == "my" else order)
    if displaced:
        _drop_order(graph, lambda m: m in displaced)


def _drop_order(graph, is_displaced):
    """Takes the order feature and the tie-break off the leaf edges of every `my` node `is_displaced` says,
    and lets decisions among them need the margin that names alone need."""
    tolerance = graph.graph["node_tolerance"]
    for u, v, data in graph.edges(data=True):
        if "group" in data:
            continue
        m, t = (u, v) if u[0] == "my" else (v, u)
        if is_displaced(m):
            data.update(order=0.0, displaced=True)
            data["cost"] = edge_cost({name: data[name] for name in FEATURE_WEIGHTS})
            tolerance[m] = tolerance[t] = DISPLACED_TOLERANCE
    for component in nx.connected_components(graph):  # no tie-break may stand in for the order dropped there
        edges = graph.edges(component, data=True)
        if any(data.get("displaced") for _, _, data in edges):
            for _, _, data in edges:
                data.pop("order_rank", None)


def drop_order_against_names(graph, my_leaves, assignment):
    """Enumeration order stops being evidence where it made a pair that names and indices clearly speak
    against: another candidate of the same `my` leaf costs less by them alone, by more than the margin
    names alone need (`DISPLACED_TOLERANCE`). One implementation defines those leaves in another order
    (Keras's ALBERT its attention biases and norms, transformers' BEiT its norms after the MLP). Order
    is dropped for every leaf of that size and kind (weight, bias, ...) and for every leaf of the `my`
    module that holds it (a norm's scale goes where its offset goes): their edges lose the order feature
    and the tie-break, and names decide or the tie is reported. Returns whether any edge changed."""
    if not graph.graph["ordered"]:
        return False

    def kind(m):
        leaf, node = my_leaves[m[1]], graph.nodes[m]
        return leaf.size, leaf.dtype_kind, node["instances"], _names.leaf_name(leaf.parts)

    def module(m):
        return my_leaves[m[1]].parts[:-1]

    def by_names(data):
        return data["cost"] - FEATURE_WEIGHTS["order"] * data["order"]

    kinds, modules = set(), set()
    for m, t in assignment.pairs.items():
        # A counter (a step, num_batches_tracked) follows its module: its name is no evidence against order.
        if is_group(m) or is_group(t) or graph.edges[m, t].get("displaced") or is_counter(my_leaves[m[1]]):
            continue
        chosen, chosen_cost = by_names(graph.edges[m, t]), graph.edges[m, t]["cost"]
        if any(_order_against_names(chosen - by_names(data), data["cost"] - chosen_cost)
               for _, v, data in graph.edges(m, data=True) if v != t):
            kinds.add(kind(m))
            modules.add(module(m))
    if not kinds:
        return False
    _drop_order(graph, lambda m: kind(m) in kinds or module(m) in modules)
    return True


def _order_against_names(names_prefer, margin):
    """Whether order won a pair against names: names prefer the other candidate by `names_prefer`, more
    than the margin names alone need, or by more than rounding and by more than order's whole win
    (`margin`, what the other candidate costs more): a narrow win over a runner-up that names prefer is
    no evidence (a block more on one side shifted the final norm's position onto a block's norm, margin
    0.043 against names' 0.16)."""
    return names_prefer > DISPLACED_TOLERANCE or (names_prefer > COST_NOISE and margin < names_prefer)


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
        edges = list(graph.edges(mine, data=True))
        if any(data.get("displaced") for _, _, data in edges):
            continue  # no tie-break may stand in for an order that is no evidence there
        for u, v, data in edges:
            m, t = (u, v) if u[0] == "my" else (v, u)
            data["order_rank"] = (my_rank[m] - their_rank[t]) ** 2
