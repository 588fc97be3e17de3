"""The zoo's sides: random values that keep every weight's kind."""

import numpy as np
import torch

from benchmarks.zoo.pairs import TorchSide, random_values


def test_random_values_of_a_scalar_is_an_array():
    values = random_values("logit_scale", np.array(2.5, dtype=np.float32), np.random.default_rng(0))
    assert isinstance(values, np.ndarray) and values.shape == ()
    assert values == 2.5 + 0.5 * np.random.default_rng(0).standard_normal()


def test_randomize_replaces_a_scalar_weight():
    module = torch.nn.Module()
    module.logit_scale = torch.nn.Parameter(torch.tensor(2.5))
    side = TorchSide(module, lambda m, x: m.logit_scale * x)
    side.randomize(0)
    expected = np.float32(2.5 + 0.5 * np.random.default_rng(0).standard_normal())
    assert side.weights()["logit_scale"].shape == ()
    assert side.weights()["logit_scale"].item() == expected
