"""The calibration benchmark judges each decision by the pair's proof."""

import dataclasses

import torch

from benchmarks import calibration
from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.verify import BuiltPair

RESNET = "resnet 18 (basic blocks, 1 per stage): torchvision -> timm"


def test_every_decision_on_a_mapped_pair_is_judged_right_by_its_proof():
    torch.set_num_threads(1)
    pair = PAIRS[RESNET]
    built = BuiltPair(pair)
    outcome, message, found = calibration.decisions(pair, built, "alphabetical")
    assert (outcome, message) == ("mapped", "")
    assert len(found) == len(built.target.weights())  # every weight of my, batch counters too
    assert all(right and accepted for _, _, right, accepted in found)


def test_a_proof_that_disagrees_makes_the_decisions_it_concerns_wrong():
    torch.set_num_threads(1)

    def swapped_proof(their, my):
        proven = PAIRS[RESNET].prove(their, my)
        proven["bn1.weight"], proven["bn1.bias"] = proven["bn1.bias"], proven["bn1.weight"]
        return proven

    pair = dataclasses.replace(PAIRS[RESNET], prove=swapped_proof)
    _, _, found = calibration.decisions(pair, BuiltPair(pair), "definition")
    assert sorted(name for name, _, right, _ in found if not right) == ["bn1.bias", "bn1.weight"]


def test_the_report_counts_decisions_per_margin_range_and_lists_accepted_wrong_ones():
    records = [
        {"source": "zoo", "pair": "p", "order": "definition", "outcome": "mapped", "message": "",
         "decisions": [("a", None, True, True), ("b", 0.3, False, True), ("c", 0.0, True, False)]},
        {"source": "zoo", "pair": "q", "order": "alphabetical", "outcome": "UnmatchedError", "message": "", "decisions": []},
    ]
    text = calibration.format_report(records, "python -m benchmarks.calibration", 1.0)
    assert text.startswith("`python -m benchmarks.calibration`: 2 runs in 1 s: 2 zoo runs (2 proven pairs, every order; 3 decisions), "
                           "0 sweep runs (0 timm architectures, both styles; 0 decisions);")
    assert "| 0 (exact tie) | 0 | 0 | 1 | 0 |" in text
    assert "| (0.25, 0.5] | 0 | 1 | 0 | 0 |" in text
    assert "| >= 1.0 (bounds), inf | 1 | 0 | 0 | 0 |" in text
    assert "| **all** | **1** | **1** | **1** | **0** |" in text
    assert "another error first (UnmatchedError: 1)." in text
    assert text.endswith("- p [definition]: 1 wrong, margins: `b` (0.300)")


def test_a_sweep_architecture_is_judged_by_the_true_mapping_its_port_records():
    from benchmarks.zoo.sweep import ported_trees, timm_signature

    port, _, my = ported_trees(timm_signature("resnet18"), "tf")
    outcome, message, found = calibration.sweep_decisions("resnet18", "tf")
    assert (outcome, message) == ("mapped", "")
    assert sorted(name for name, _, _, _ in found) == sorted(my) == sorted(port.truth)
    assert all(right and accepted for _, _, right, accepted in found)
