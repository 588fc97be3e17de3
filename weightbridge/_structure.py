"""Structure: which modules of `my` and `their` correspond, read from the trees alone, before any name.

The bag of a module, the multiset of (size, kind of number) of the leaves under it, does not depend
on names, nesting below it or enumeration order. Matching runs top down from the two roots: inside a
pair of matched modules, the modules below them fall into classes of equal bags, and a class pairs
its members when the evidence makes the pairing unique:

- one module on each side: they can only be each other's partner;
- as many on each side, each side's members a list (paths alike but for their numbers): they pair by
  the rank of their indices, compared by value (``layers.10`` after ``layers.9``), never by string
  order or by enumeration order;
- a list longer than the other (a near-miss architecture, a block more or fewer) pairs by index value,
  where both lists count from the same first index: the blocks without a partner stay unmatched rather
  than shifting every block after them.

Fused weights change a bag (``qkv`` against ``query``, ``key``, ``value``) but not the number of
elements under a module: lists of modules also pair on that coarser bag, where the list itself is the
evidence. Larger modules are matched first, and a matched pair is matched again inside, where
nesting may differ by any number of levels (torchvision's ``features.1.0.block.0.1`` against timm's
``blocks.0.0.bn1``). Modules without a unique partner stay with the enclosing pair.

Each leaf is then owned by the innermost matched module above it; a leaf may pair only with a leaf
of the partner module's ownership. Where a side keeps its definition order, a leaf's place among the
matched modules inside its owner (its slot: which of them were enumerated before it) is the order
evidence that survives a module defined elsewhere in the other implementation (torchvision's RegNet
defines the shortcut first, timm's last). This is the coherence of modules (a conv and its norm stay
together), and it leaves the names only the few candidates inside one pair of modules. This is
schema matching's structural pass (Madhavan et al., "Generic Schema Matching with Cupid", 2001), with
bags in place of element types.
"""

import dataclasses
import re
from collections import Counter, defaultdict

from . import _names
from ._leaves import is_counter

_HASH_MODULUS = (1 << 61) - 1
_KERAS_NUMBERED = re.compile(r"[A-Za-z]\w*_[1-9][0-9]*")


@dataclasses.dataclass(frozen=True)
class ModulePairs:
    """Matched modules: ``pairs[k]`` is a (my path, their path) pair of module paths (tuples of parts),
    pair 0 being the two roots; ``my_owner[i]`` / ``their_owner[j]`` is the pair that owns each leaf."""

    pairs: tuple
    my_owner: tuple
    their_owner: tuple
    # Per leaf: the matched modules directly inside its owner that were enumerated before it.
    my_slot: tuple
    their_slot: tuple
    # Per pair: how many matched modules lie directly inside it.
    anchors: tuple
    # Per leaf: the leaf anchors its owner enumerated before it, None where the owner pair owns its leaves evenly
    # (see `_leaf_anchors`).
    my_before: tuple
    their_before: tuple

    def of_representatives(self, my_firsts, their_firsts):
        """The same for a folded problem, whose leaves are the leaves at `my_firsts` and `their_firsts`."""
        return dataclasses.replace(
            self, my_owner=tuple(self.my_owner[k] for k in my_firsts), their_owner=tuple(self.their_owner[k] for k in their_firsts),
            my_slot=tuple(self.my_slot[k] for k in my_firsts), their_slot=tuple(self.their_slot[k] for k in their_firsts),
            my_before=tuple(self.my_before[k] for k in my_firsts), their_before=tuple(self.their_before[k] for k in their_firsts),
        )


def structural_paths(leaves):
    """Each leaf's path as its module tree has it. Where the top level splits one tree into collections
    (Flax's `params` and `batch_stats`: the same modules under each, every module's parameters in exactly
    one), the collection is left out: `batch_stats/blocks_0/norm/mean` lies in the module `blocks_0/norm`
    with `params/blocks_0/norm/scale`, as torch's `blocks.0.norm.running_mean` lies with its weight."""
    paths = [leaf.parts for leaf in leaves]
    if not paths or any(len(path) < 3 for path in paths):
        return paths
    modules, entries = defaultdict(set), set()
    for path in paths:
        modules[path[0]].add(path[1:-1])
        entries.add(path[1:])
    if len(modules) < 2 or len(entries) < len(paths):
        return paths  # one tree, or the same parameter under two top-level modules (an encoder and a decoder)
    largest = max(modules.values(), key=len)
    if not all(found <= largest for found in modules.values()):
        return paths
    return [path[1:] for path in paths]


class _Tree:
    """The modules of one side. A module holding the same leaves as its only child is one module with
    it (a Sequential around one layer): it is known by its outermost path."""

    def __init__(self, leaves):
        self.leaves = leaves
        self.paths = structural_paths(leaves)
        count = defaultdict(int)
        for path in self.paths:
            for depth in range(len(path)):
                count[path[:depth]] += 1
        # Each path maps to the outermost path of its chain of equal counts.
        self.node_of = {}
        for path in sorted(count, key=len):
            parent = path[:-1] if path else None
            self.node_of[path] = self.node_of[parent] if parent is not None and count[parent] == count[path] else path
        self.parent = {}
        self.children = defaultdict(list)
        for path, node in self.node_of.items():
            if node == path and path:
                up = self.node_of[path[:-1]]
                self.parent[path] = up
                self.children[up].append(path)
        self.members = defaultdict(list)
        exact, size, counted = defaultdict(int), defaultdict(int), defaultdict(int)
        for k, (leaf, path) in enumerate(zip(leaves, self.paths)):
            signature = hash((leaf.size, leaf.dtype_kind)) % _HASH_MODULUS
            for node in dict.fromkeys(self.node_of[path[:depth]] for depth in range(len(path))):
                self.members[node].append(k)
                if is_counter(leaf):
                    continue
                counted[node] += 1
                exact[node] = (exact[node] + signature) % _HASH_MODULUS
                size[node] += leaf.size
        # The bag, as a multiset hash (sums of element hashes: equal bags, equal keys), and the coarse
        # bag a fusion leaves unchanged. Counters are left out: one implementation keeps them, another not.
        self.bag = {node: (counted[node], size[node], exact[node]) for node in self.members}
        self.coarse = {node: size[node] for node in self.members}

    def first(self, node):
        """Where the module's first leaf was enumerated."""
        return min(self.leaves[k].index for k in self.members[node])

    def below(self, node):
        """Every module under `node`, outermost first."""
        found, frontier = [], list(self.children[node])
        while frontier:
            found.extend(frontier)
            frontier = [child for parent in frontier for child in self.children[parent]]
        return found

    def inside(self, node, claimed, top):
        """Whether `node` lies inside a module of `claimed`, looking up no further than `top`."""
        node = self.parent.get(node)
        while node is not None and node != top:
            if node in claimed:
                return True
            node = self.parent.get(node)
        return False


def _as_list(paths, top):
    """The members with their indices, in the order of the indices, when they form one list (their paths
    below `top` are alike but for their numbers, and the numbers tell them apart), else None. Keras and
    TensorFlow number repeated names from the second on (`layer_norm`, `layer_norm_1`): the first is number 0."""
    relative = [path[len(top):] for path in paths]
    numbered = {part.rsplit("_", 1)[0] for path in relative for part in path if _KERAS_NUMBERED.fullmatch(part)}
    keyed = []
    for path in relative:
        values, template = _names.numbers(tuple(part + "_0" if part in numbered else part for part in path))
        keyed.append((template, values))
    if len({template for template, _ in keyed}) != 1 or len({values for _, values in keyed}) != len(keyed):
        return None
    return sorted(zip((values for _, values in keyed), paths))


def _list_pairs(my_list, their_list):
    """Two lists of one class pair by the rank of their indices when they are as long; a list longer than the
    other (a block more or fewer) pairs by index value, only where both count from the same first index and
    every index of the shorter list is in the longer one."""
    if len(my_list) == len(their_list):
        return [(m, t) for (_, m), (_, t) in zip(my_list, their_list)]
    mine, theirs = dict(my_list), dict(their_list)
    shorter, longer = sorted((mine, theirs), key=len)
    if min(mine) != min(theirs) or not shorter.keys() <= longer.keys():
        return []
    return [(mine[values], theirs[values]) for values in sorted(shorter)]


def _hints_agree(my_tree, my_node, their_tree, their_node, hints):
    """A module pair that a hint contradicts (not as many leaves on each side say what the hint says) is no pair."""
    for a, b in hints:
        mine = sum(a in my_tree.leaves[k].name for k in my_tree.members[my_node])
        theirs = sum(any(b in name for name in (their_tree.leaves[k].name,) + their_tree.leaves[k].aliases)
                     for k in their_tree.members[their_node])
        if mine != theirs:
            return False
    return True


def _pairs_inside(my_tree, their_tree, my_top, their_top, hints):
    """The module pairs directly decided inside the matched pair (my_top, their_top)."""
    mine, theirs = my_tree.below(my_top), their_tree.below(their_top)
    classes = defaultdict(lambda: ([], []))
    for side, tree, nodes in ((0, my_tree, mine), (1, their_tree, theirs)):
        for node in nodes:
            classes[("exact", tree.bag[node])][side].append(node)
            classes[("coarse", tree.coarse[node])][side].append(node)
    # Larger modules first (a bag's element count is the class's); at one size, equal bags before merely
    # equal element counts. A class with no member on one side pairs nothing.
    ordered = sorted(((key, members) for key, members in classes.items() if all(members)),
                     key=lambda item: (-my_tree.coarse[item[1][0][0]], item[0][0] != "exact"))
    claimed_my, claimed_their, found = set(), set(), []
    for (kind, _), (my_nodes, their_nodes) in ordered:
        my_nodes = [n for n in my_nodes if n not in claimed_my and not my_tree.inside(n, claimed_my, my_top)]
        their_nodes = [n for n in their_nodes if n not in claimed_their and not their_tree.inside(n, claimed_their, their_top)]
        if not my_nodes or not their_nodes:
            continue
        if len(my_nodes) == len(their_nodes) == 1:
            if kind != "exact":
                continue
            chosen = [(my_nodes[0], their_nodes[0])]
        else:
            my_list, their_list = _as_list(my_nodes, my_top), _as_list(their_nodes, their_top)
            if my_list is None or their_list is None:
                continue
            chosen = _list_pairs(my_list, their_list)
        if hints and not all(_hints_agree(my_tree, m, their_tree, t, hints) for m, t in chosen):
            continue
        for m, t in chosen:
            claimed_my.add(m)
            claimed_their.add(t)
        found.extend(chosen)
    for m, t in _left_at_one_index(my_tree, their_tree, mine, theirs, found, claimed_my, claimed_their, my_top, their_top):
        if not hints or _hints_agree(my_tree, m, their_tree, t, hints):
            claimed_my.add(m)
            claimed_their.add(t)
            found.append((m, t))
    return found


def _left_at_one_index(my_tree, their_tree, mine, theirs, found, claimed_my, claimed_their, my_top, their_top):
    """The items left at one index of two lists whose other items paired at equal indices: a weight missing
    from one side (or one more) changes the bag of its block, of the block's stage and so on up, but not
    where the block sits. Outermost first; an item pairs only where it is the one left at its index on
    each side and lies in no module paired already."""
    lists = {(m[:-1], t[:-1]) for m, t in found if m[-1].isdigit() and t[-1].isdigit() and int(m[-1]) == int(t[-1])}
    if not lists:
        return []

    def left(nodes, claimed):
        by_place = defaultdict(list)
        for node in nodes:
            if node[-1].isdigit() and node not in claimed:
                by_place[node[:-1], int(node[-1])].append(node)
        return by_place

    my_left, their_left = left(mine, claimed_my), left(theirs, claimed_their)
    candidates = sorted(
        ((my_nodes[0], their_nodes[0]) for (my_list, index), my_nodes in my_left.items() if len(my_nodes) == 1
         for their_list in {t for m, t in lists if m == my_list}
         for their_nodes in [their_left.get((their_list, index), [])] if len(their_nodes) == 1),
        key=lambda pair: len(pair[0]),
    )
    chosen, paired_my, paired_their = [], set(claimed_my), set(claimed_their)
    for m, t in candidates:
        if m in paired_my or t in paired_their or my_tree.inside(m, paired_my, my_top) or their_tree.inside(t, paired_their, their_top):
            continue
        chosen.append((m, t))
        paired_my.add(m)
        paired_their.add(t)
    return chosen


def match_modules(my_leaves, their_leaves, hints=()):
    """The matched modules of both sides and the pair that owns each leaf (see the module docstring)."""
    my_tree, their_tree = _Tree(my_leaves), _Tree(their_leaves)
    pairs, inside = [((), ())], [[]]
    paired_my, paired_their = set(), set()
    pending = [0]
    while pending:
        k = pending.pop()
        my_top, their_top = pairs[k]
        for pair in _pairs_inside(my_tree, their_tree, my_top, their_top, hints):
            if pair[0] in paired_my or pair[1] in paired_their:
                continue  # paired further out already (a module paired by its index after modules inside it)
            paired_my.add(pair[0])
            paired_their.add(pair[1])
            pending.append(len(pairs))
            inside[k].append(len(pairs))
            pairs.append(pair)
            inside.append([])
    my_owner = _owners(my_tree, {m: k for k, (m, _) in enumerate(pairs)})
    their_owner = _owners(their_tree, {t: k for k, (_, t) in enumerate(pairs)})
    return ModulePairs(
        tuple(pairs), my_owner, their_owner,
        _slots(my_tree, my_owner, inside, [m for m, _ in pairs]), _slots(their_tree, their_owner, inside, [t for _, t in pairs]),
        tuple(len(children) for children in inside), *_leaf_anchors(my_leaves, their_leaves, my_owner, their_owner),
    )


def _leaf_anchors(my_leaves, their_leaves, my_owner, their_owner):
    """Where the two modules of a pair own their leaves in unequal numbers of some size (a weight missing,
    experts stacked on one side and listed on the other), a leaf's place among all leaves moves with what
    the other side lacks. The leaves of the sizes both own equally often then say where a leaf sits: per
    leaf, how many of each such size its owner enumerated before it (`wo` follows `wk` and `wv` as `o_proj`
    follows `k_proj` and `v_proj`, whether or not `wq` is there), as a frozenset of (size, count) items;
    None in a pair that owns its leaves evenly."""
    def kinds(leaves, owners):
        counted = defaultdict(Counter)
        for leaf, owner in zip(leaves, owners):
            counted[owner][(leaf.size, leaf.dtype_kind)] += 1
        return counted

    mine, theirs = kinds(my_leaves, my_owner), kinds(their_leaves, their_owner)
    anchor_kinds = {owner: {kind for kind, count in mine[owner].items() if theirs[owner][kind] == count}
                    for owner in mine.keys() & theirs.keys() if mine[owner] != theirs[owner]}

    def before(leaves, owners):
        seen, found = defaultdict(Counter), [None] * len(leaves)
        for k in sorted(range(len(leaves)), key=lambda k: leaves[k].index):
            owner, kind = owners[k], (leaves[k].size, leaves[k].dtype_kind)
            if owner in anchor_kinds:
                found[k] = frozenset(seen[owner].items())
                if kind in anchor_kinds[owner]:
                    seen[owner][kind] += 1
        return tuple(found)

    return before(my_leaves, my_owner), before(their_leaves, their_owner)


def anchors_between(a, b):
    """How many leaf anchors one of two leaves has before it that the other has not (see `_leaf_anchors`)."""
    if a == b:
        return 0
    a, b = dict(a), dict(b)
    return sum(abs(a.get(kind, 0) - b.get(kind, 0)) for kind in a.keys() | b.keys())


def _owners(tree, pair_of):
    """For each leaf, the pair of its innermost matched module."""
    owners = []
    for path in tree.paths:
        owner = 0
        for depth in range(len(path) - 1, -1, -1):
            node = tree.node_of[path[:depth]]
            if node in pair_of:
                owner = pair_of[node]
                break
        owners.append(owner)
    return tuple(owners)


def _slots(tree, owners, inside, modules):
    """For each leaf, the pairs directly inside its owner whose module was enumerated before the leaf."""
    first = [tree.first(module) for module in modules]
    return tuple(frozenset(c for c in inside[owner] if first[c] < leaf.index) for leaf, owner in zip(tree.leaves, owners))
