"""Real model pairs: with zero hints, adapt's mapping must make the target compute what the source computes."""

import pytest
import torch

import weightbridge
from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.verify import verify

FAST_PAIRS = [pair for pair in PAIRS.values() if pair.fast]


def test_fast_pairs_cover_every_library():
    libraries = {pair.source for pair in FAST_PAIRS} | {pair.target for pair in FAST_PAIRS}
    assert {"torchvision", "transformers", "timm", "flax"} <= libraries
    assert {
        "resnet50: torchvision -> timm",
        "resnet50: transformers -> timm",
        "convnext: transformers -> timm",
        "convnet: torch -> flax",
    } <= {pair.name for pair in FAST_PAIRS}


# Pairs whose evidence does not decide: torch's TransformerEncoderLayer defines both norms after its MLP,
# transformers each after its sublayer, so enumeration order cannot tell norm1 from norm2, and names do not.
LOUD = {"bert: transformers -> torch nn.TransformerEncoder": [("norm1", "attention.output.LayerNorm")]}


@pytest.mark.parametrize("pair", [p for p in FAST_PAIRS if p.name not in LOUD], ids=[p.name for p in FAST_PAIRS if p.name not in LOUD])
def test_adapt_maps_real_pair_without_hints(pair):
    torch.set_num_threads(1)
    result = verify(pair, weightbridge.adapt)
    assert result.outcome == "correct", f"{pair.name}: {result.outcome} (relative error {result.relative_error}) {result.message}"


def outcome_and_proposed_hints(pair):
    """The outcome of adapt on `pair` with zero hints, and the hints its AmbiguityError proposed."""
    proposed = []

    def adapt_recording_hints(their, my, hints=()):
        try:
            return weightbridge.adapt(their, my, hints=hints)
        except weightbridge.AmbiguityError as error:
            proposed.extend(error.hints)
            raise

    return verify(pair, adapt_recording_hints).outcome, proposed


@pytest.mark.parametrize("name", sorted(LOUD))
def test_a_pair_without_deciding_evidence_raises_and_its_proposed_hint_maps_it(name):
    torch.set_num_threads(1)
    outcome, proposed = outcome_and_proposed_hints(PAIRS[name])
    assert outcome == "error"
    assert proposed == LOUD[name]
    assert verify(PAIRS[name], weightbridge.adapt, hints=proposed).outcome == "correct"


def test_verify_calls_the_identity_mapping_wrong():
    pair = PAIRS["convnet: torch -> flax"]
    result = verify(pair, lambda their, my, hints=(): my)
    assert result.outcome == "wrong"
    assert result.relative_error > 1e-2


def test_verify_reports_a_refusal_as_error():
    def refuse(their, my, hints=()):
        raise ValueError("two assignments tie")

    result = verify(PAIRS["convnet: torch -> flax"], refuse)
    assert result == type(result)("error", None, "ValueError: two assignments tie")


def test_verify_reports_a_tree_that_does_not_load_as_crashed():
    result = verify(PAIRS["convnet: torch -> flax"], lambda their, my, hints=(): {"params": {}})
    assert result.outcome == "crashed"
    assert result.message.startswith("the mapped weights do not load")


def test_verify_passes_hints_through():
    seen = []

    def record(their, my, hints=()):
        seen.append(hints)
        return my

    verify(PAIRS["convnet: torch -> flax"], record, hints=[("Dense_0", "fc1")])
    assert seen == [[("Dense_0", "fc1")]]


def test_randomize_replaces_every_float_weight_and_keeps_variances_positive():
    side = PAIRS["mobilenetv2: torchvision -> timm"].build_source()
    before = {name: tensor.clone() for name, tensor in side.weights().items()}
    side.randomize(0)
    after = side.weights()
    for name, tensor in after.items():
        if tensor.is_floating_point():
            assert not torch.equal(tensor, before[name]), name
        else:
            assert torch.equal(tensor, before[name]), name
    variances = [tensor for name, tensor in after.items() if name.endswith("running_var")]
    assert variances and all(bool((tensor > 0).all()) for tensor in variances)


# Pairs whose enumeration orders disagree where names do not: order once overruled the names and
# mapped them silently wrong (ALBERT's attention biases shifted by one, BEiT's q and v biases crossed).
# Now names decide where they can and the rest is reported, with hints that map the pair.
ORDER_AGAINST_NAMES = {
    "albert: transformers -> keras-hub": [("self", "attention")],
    "bert-pooled: transformers -> keras-hub": [("self", "attention")],
}


@pytest.mark.parametrize("name", sorted(ORDER_AGAINST_NAMES))
def test_an_order_that_names_speak_against_is_reported_and_the_hints_map_the_pair(name):
    torch.set_num_threads(1)
    outcome, proposed = outcome_and_proposed_hints(PAIRS[name])
    assert outcome == "error"
    assert proposed == ORDER_AGAINST_NAMES[name]
    result = verify(PAIRS[name], weightbridge.adapt, hints=proposed)
    assert result.outcome == "correct", result.message


def test_norms_that_only_order_could_tell_apart_are_reported_not_guessed():
    # transformers' BEiT defines both norms after the MLP, timm each before its sublayer; the names
    # (norm1 against layernorm_before) say nothing either.
    torch.set_num_threads(1)
    result = verify(PAIRS["beit base (2 layers): transformers -> timm"], weightbridge.adapt)
    assert result.outcome == "error"
    assert result.message.startswith("AmbiguityError: the mapping is not unique: 1 group of weights")
    assert "blocks.0.norm1.weight (768,) and 1 more alike" in result.message
