"""A real pair that needs a hint: transformers ConvNeXt weights in alphabetical order (as a safetensors
file stores them) -> timm. Without order, nothing tells the stem's conv bias from its norm bias."""

import weightbridge
from benchmarks.zoo.pairs import PAIRS
from benchmarks.zoo.verify import verify

PAIR = PAIRS["convnext: transformers -> timm"]


def alphabetical(their, my, hints=()):
    return weightbridge.adapt(dict(sorted(their.items())), my, hints=hints)


def test_alphabetical_convnext_needs_a_hint_and_the_proposed_hint_fixes_it():
    result = verify(PAIR, alphabetical)
    assert result.outcome == "error"
    assert result.message == (
        "AmbiguityError: the mapping is not unique: 1 group of weights can be paired in more than one way at exactly the same cost.\n"
        "  group 1: 2 my and 2 their weights tie\n"
        "    my                  their\n"
        "    stem.0.bias (16,)   convnext.embeddings.patch_embeddings.bias (16,)\n"
        "    stem.1.bias (16,)   convnext.embeddings.layernorm.bias (16,)\n"
        "    missing evidence: the parameter names (weight, bias, ...) are alike; the module names are equally similar; "
        "the block indices agree equally; the layouts fit equally well; "
        "the enumeration order of their is alphabetical, so it is no evidence\n"
        "Say which weights correspond with hints (my_substring, their_substring); if the rows shown above are the right pairs:\n"
        '  hints=[("stem.0", "patch")]'
    )
    fixed = verify(PAIR, alphabetical, hints=[("stem.0", "patch")])
    assert fixed.outcome == "correct", fixed.message
    assert fixed.relative_error < 1e-4
