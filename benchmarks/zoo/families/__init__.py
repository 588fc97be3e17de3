"""Zoo families: every architecture that two real libraries both implement, one module per pair of libraries.

Each module here exports `pairs() -> list[ZooPair]`; every pair carries a `prove` mapping.
"""

import importlib

FAMILY_MODULES = ("vision", "keras_vision", "text", "originals")


def family_pairs():
    found = []
    for name in FAMILY_MODULES:
        found.extend(importlib.import_module(f"benchmarks.zoo.families.{name}").pairs())
    return found
