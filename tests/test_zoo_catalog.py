"""The zoo's catalog: every pair by name, whichever zoo module a program imports first."""

import subprocess
import sys

import pytest

from benchmarks.results import REPOSITORY
from benchmarks.zoo.catalog import PAIRS, select_pairs
from benchmarks.zoo.families import FAMILY_MODULES, family_pairs
from benchmarks.zoo.pairs import hand_picked_pairs

FIRST_IMPORTS = [
    "from benchmarks.zoo.families import family_pairs",
    *(f"import benchmarks.zoo.families.{name}" for name in FAMILY_MODULES),
    "from benchmarks.zoo.pairs import Side, TorchSide, ZooPair, _hf_logits, _logits, _image, _timm, _torchvision",
    "import benchmarks.zoo.verify",
    "from benchmarks.zoo.catalog import PAIRS",
]


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_any_zoo_module_imports_first(first):
    # A fresh interpreter: here every module is imported already.
    program = f"{first}\nfrom benchmarks.zoo.catalog import PAIRS\nprint(len(PAIRS))"
    done = subprocess.run([sys.executable, "-c", program], cwd=REPOSITORY, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(PAIRS))]


def test_catalog_holds_the_hand_picked_pairs_then_the_families_once_each():
    pairs = hand_picked_pairs() + family_pairs()
    assert list(PAIRS) == [pair.name for pair in pairs]
    assert len(PAIRS) == len(pairs)


def test_select_pairs_by_family_module_and_by_family_name():
    assert select_pairs() == list(PAIRS.values())
    hand_picked = {pair.name for pair in hand_picked_pairs()}
    assert {pair.name for pair in select_pairs(["hand-picked"])} == hand_picked
    assert [pair.name for pair in select_pairs(["mlp"])] == ["mlp: torch -> haiku"]
