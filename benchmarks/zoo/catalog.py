"""Every zoo pair by name: the hand-picked pairs of `benchmarks.zoo.pairs` and the families'.

The dependency runs one way: the family modules import their sides and builders from
`benchmarks.zoo.pairs`, and only this module imports both, so any of them can be imported first.

```python
from benchmarks.zoo.catalog import PAIRS, select_pairs

PAIRS["resnet50: torchvision -> timm"]
select_pairs(["vision", "BERT"])   # a family module's pairs, and those whose family names BERT
```
"""

from __future__ import annotations

import importlib

from benchmarks.zoo.families import FAMILY_MODULES, family_pairs
from benchmarks.zoo.pairs import ZooPair, hand_picked_pairs

PAIRS: dict[str, ZooPair] = {pair.name: pair for pair in hand_picked_pairs() + family_pairs()}


def select_pairs(families=()) -> list[ZooPair]:
    """The pairs of the named family modules ("vision", ...; "hand-picked" for the zoo's original pairs)
    or whose family name contains one of `families` (any case); every pair without `families`."""
    if not families:
        return list(PAIRS.values())
    chosen = set()
    for family in families:
        if family in FAMILY_MODULES:
            chosen |= {p.name for p in importlib.import_module(f"benchmarks.zoo.families.{family}").pairs()}
        elif family == "hand-picked":
            chosen |= {p.name for p in hand_picked_pairs()}
        else:
            chosen |= {p.name for p in PAIRS.values() if family.lower() in p.family.lower()}
    return [pair for name, pair in PAIRS.items() if name in chosen]
