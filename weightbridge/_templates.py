"""Templates: large checkpoints repeat a few dozen weights over layers and experts. Replacing the list
indices of each path by placeholders folds the leaves into templates; templates are matched to
templates (a small problem), and the members of two matched templates are paired in the sorted
order of their indices. Matching then costs as much as the number of templates, not of tensors."""

import dataclasses
import re
from collections import defaultdict

# Folding pays only where leaves repeat: below this share of templates per leaf, fold.
MAX_TEMPLATE_SHARE = 0.75
# How many members of two matched templates are checked for indices that agree (evenly spread).
MEMBERS_CHECKED = 32
# List indices: a whole path part ('layers.7') or Flax list suffixes ('layers_7', 'layers_2_0').
_INDEX = re.compile(r"\d+")
_SUFFIXES = re.compile(r"(.+?)((?:_\d+)+)")


@dataclasses.dataclass(frozen=True)
class Template:
    """Leaves alike but for their list indices, with one shape and dtype: ``members`` are leaf positions,
    sorted by their indices; the first member stands for all of them in the small problem."""

    key: tuple
    members: tuple

    @property
    def count(self):
        return len(self.members)


def template_key(parts):
    """The path with every list index replaced by '{}', and the indices themselves:
    ('model', 'layers', '7', 'mlp', 'experts', '3', 'w1') -> ('model', 'layers', '{}', 'mlp', 'experts', '{}', 'w1'), (7, 3).
    Digits inside a name ('conv1') name different modules, not repetitions, and stay."""
    key, indices = [], []
    for part in parts:
        if _INDEX.fullmatch(part):
            key.append("{}")
            indices.append(int(part))
            continue
        suffixes = _SUFFIXES.fullmatch(part)
        if suffixes is None:
            key.append(part)
            continue
        numbers = [int(n) for n in suffixes.group(2)[1:].split("_")]
        key.append(suffixes.group(1) + "_{}" * len(numbers))
        indices.extend(numbers)
    return tuple(key), tuple(indices)


def fold(leaves, keep_apart=frozenset()):
    """The templates of one side, in the order their first members were enumerated. Leaves in
    `keep_apart` (positions) stay templates of their own."""
    groups = defaultdict(list)
    for position, leaf in enumerate(leaves):
        key, indices = template_key(leaf.parts)
        group = (key, leaf.shape, leaf.dtype) if position not in keep_apart else ("apart", position)
        groups[group].append((indices, position))
    templates = [Template(key, tuple(position for _, position in sorted(members))) for key, members in groups.items()]
    return sorted(templates, key=lambda template: min(template.members))


def worth_folding(my_leaves, their_leaves, my_templates, their_templates):
    templates = len(my_templates) + len(their_templates)
    return templates <= MAX_TEMPLATE_SHARE * (len(my_leaves) + len(their_leaves))


def representatives(leaves, templates):
    """One leaf per template, its first member, numbered by its place among the representatives (the
    pipeline reads a leaf's index as its place in the list); what it stands for goes in a Folding."""
    return [dataclasses.replace(leaves[template.members[0]], index=k) for k, template in enumerate(templates)]


def checked_members(count):
    """The ranks of the members whose pairing is checked: all of a small template, else an even spread."""
    if count <= MEMBERS_CHECKED:
        return range(count)
    return sorted({round(k * (count - 1) / (MEMBERS_CHECKED - 1)) for k in range(MEMBERS_CHECKED)})
