"""The zoo's runner: a pair's proof and runs on long-lived workers, each run measured on its own."""

import numpy as np

from benchmarks.legacy import ResidentPeak
from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.runner import PROOF, pair_runs, run_pairs

RESNET = "resnet 18 (basic blocks, 1 per stage): torchvision -> timm"
MLP = "mlp: torch -> haiku"


def test_a_pair_runs_its_proof_first_then_every_tool_in_every_order():
    runs = pair_runs(PAIRS[RESNET], ["weightbridge", "name-identity"], ["definition", "shuffled"])
    assert runs == [
        (PROOF, "definition"),
        ("weightbridge", "definition"),
        ("weightbridge", "shuffled"),
        ("name-identity", "definition"),
        ("name-identity", "shuffled"),
    ]
    assert pair_runs(PAIRS[MLP], ["weightbridge"], ["alphabetical"]) == [("weightbridge", "alphabetical")]


def test_records_come_back_in_job_order_from_two_workers_and_a_dead_worker_is_a_crashed_run():
    jobs = [
        (RESNET, pair_runs(PAIRS[RESNET], ["weightbridge", "timm-remap"], ["definition", "alphabetical"])),
        ("no such pair", [("weightbridge", "definition")]),
        (MLP, [("timm-remap", "definition")]),
    ]
    records, timings = run_pairs(jobs, workers=2, timeout=600)
    assert [(r["pair"], r["tool"], r["order"], r["outcome"]) for r in records] == [
        (RESNET, PROOF, "definition", "correct"),
        (RESNET, "weightbridge", "definition", "correct"),
        (RESNET, "weightbridge", "alphabetical", "correct"),
        (RESNET, "timm-remap", "definition", "correct"),
        (RESNET, "timm-remap", "alphabetical", "error"),
        ("no such pair", "weightbridge", "definition", "crashed"),
        (MLP, "timm-remap", "definition", "n/a"),
    ]
    assert records[5]["message"] == "worker exited with code 1: KeyError: 'no such pair'"
    assert records[6]["message"] == "my is not a flat state dict of torch tensors"
    weightbridge = records[1]
    assert weightbridge["hints_needed"] == [] and weightbridge["zero_hint_error"] is None
    assert 0 < weightbridge["seconds"] < weightbridge["run_seconds"]
    assert weightbridge["run_bytes"] >= weightbridge["tool_bytes"] >= 0
    assert set(timings) == {RESNET, MLP}  # the worker that died never began its pair
    assert timings[RESNET]["build_seconds"] < timings[RESNET]["seconds"]


def test_resident_peak_measures_a_stretch_and_hands_an_inner_peak_to_the_outer_one():
    with ResidentPeak() as outer:
        with ResidentPeak() as first:
            block = np.ones(300 * 2**20, dtype=np.uint8)
            del block
        with ResidentPeak() as second:
            small = np.ones(2**20, dtype=np.uint8)
            del small
    # A few pages held at the start are reused by the block, hence 290 of its 300 MiB.
    assert first.rise_bytes >= 290 * 2**20
    assert second.rise_bytes < 100 * 2**20  # the first block's peak was reset away
    assert outer.rise_bytes >= 290 * 2**20
