"""Real model zoo pairs: two independent implementations of one architecture.

Each `ZooPair` builds both sides from a config with random initialisation (nothing is
downloaded), so a mapping can be checked functionally: the source side gets random
weights, the mapped weights go into the target side, and both must compute the same
function on the same input. This module holds the sides, the builders the families share and
the hand-picked pairs; `benchmarks.zoo.catalog.PAIRS` holds every pair by name. `fast=True` marks
the ones the test suite runs.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Keras reads its backend once, at import; the cross-framework pairs target JAX.
os.environ.setdefault("KERAS_BACKEND", "jax")


class Side(Protocol):
    """One implementation of a pair, wrapping a model built with random initialisation."""

    def weights(self):
        """The weight tree as the library gives it."""

    def load(self, tree) -> None:
        """Load a tree shaped like `weights()` into the model; raises when it does not fit."""

    def randomize(self, seed: int) -> None:
        """Overwrite every float parameter and float buffer with fresh random values."""

    def run(self, inputs) -> np.ndarray:
        """Eval-mode forward pass on `inputs`; float32 numpy output."""


@dataclass(frozen=True)
class ZooPair:
    name: str
    family: str
    source: str
    target: str
    fast: bool
    notes: str
    build_source: Callable[[], Side]
    build_target: Callable[[], Side]
    make_input: Callable[[int], object]
    # A mapping written by hand or by a library's own converter: (their tree, my tree) -> a tree
    # shaped like `my`. It proves the two sides equivalent, so that "wrong" means wrong.
    prove: Callable[[object, object], object] | None = None


# ---------------------------------------------------------------------------- random values

_VARIANCE_NAMES = ("running_var", "moving_variance", "var", "variance")


def random_values(name: str, init: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random values of the scale of `init` but unrelated to it.

    Keeping each tensor's own scale keeps deep networks (ResNet-50) finite in float32;
    variances stay positive so that batch norm in eval mode stays defined. A scalar weight
    (CLIP's logit scale) comes back as a 0-d array, not a numpy scalar.
    """
    init = np.asarray(init, dtype=np.float64)
    if name.rsplit("/", 1)[-1].rsplit(".", 1)[-1] in _VARIANCE_NAMES:
        return np.asarray(rng.uniform(0.5, 1.5, init.shape))
    std = float(init.std()) if init.size > 1 else 0.0
    if std > 0:
        return np.asarray(init.mean() + std * rng.standard_normal(init.shape))
    return np.asarray(init + 0.5 * rng.standard_normal(init.shape))


# ---------------------------------------------------------------------------- sides


class TorchSide:
    """A torch module; its tree is the state dict, loaded strictly."""

    def __init__(self, module, forward: Callable):
        self.module = module.eval()
        self.forward = forward

    def weights(self):
        return self.module.state_dict()

    def load(self, tree) -> None:
        self.module.load_state_dict(tree, strict=True)

    def randomize(self, seed: int) -> None:
        import torch

        rng = np.random.default_rng(seed)
        with torch.no_grad():
            for name, tensor in self.module.state_dict().items():
                if tensor.is_floating_point():
                    values = random_values(name, tensor.float().numpy(), rng)
                    tensor.copy_(torch.from_numpy(values).to(tensor.dtype))

    def run(self, inputs) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.forward(self.module, inputs).float().numpy()


def _tree_signature(tree) -> list:
    import jax

    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), tuple(np.shape(leaf))) for path, leaf in flat]


class JaxSide:
    """A pure JAX model (Flax linen, Haiku): a variables tree and an apply function."""

    def __init__(self, variables, apply: Callable):
        self.variables = variables
        self.apply = apply

    def weights(self):
        return self.variables

    def load(self, tree) -> None:
        import jax
        import jax.numpy as jnp

        expected, got = _tree_signature(self.variables), _tree_signature(tree)
        if expected != got:
            missing = sorted(set(expected) - set(got))
            unexpected = sorted(set(got) - set(expected))
            raise ValueError(f"tree does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
        self.variables = jax.tree.map(lambda old, new: jnp.asarray(new, dtype=old.dtype), self.variables, tree)

    def randomize(self, seed: int) -> None:
        import jax
        import jax.numpy as jnp

        rng = np.random.default_rng(seed)

        def fresh(path, leaf):
            if not jnp.issubdtype(leaf.dtype, jnp.floating):
                return leaf
            return jnp.asarray(random_values(jax.tree_util.keystr(path), np.asarray(leaf), rng), dtype=leaf.dtype)

        self.variables = jax.tree_util.tree_map_with_path(fresh, self.variables)

    def run(self, inputs) -> np.ndarray:
        return np.asarray(self.apply(self.variables, inputs), dtype=np.float32)


class KerasSide:
    """A Keras 3 model; its tree is `{variable.path: array}` over the float variables.

    Integer variables (random seed states) are not weights and are left out. A path that
    keras-hub gives to two variables (T5's relative attention tables are both
    "self_attention/embeddings") is prefixed with the top-level layer that owns it.
    """

    def __init__(self, model, forward: Callable):
        self.model = model
        self.forward = forward
        self.variables = [v for v in model.weights if "float" in str(v.dtype)]
        owner = {id(v): layer.name for layer in model.layers for v in layer.weights}
        counts = Counter(v.path for v in self.variables)
        self.paths = [v.path if counts[v.path] == 1 else f"{owner[id(v)]}/{v.path}" for v in self.variables]
        assert len(set(self.paths)) == len(self.paths), "keras variable paths are not unique"

    def weights(self):
        from keras import ops

        return {path: ops.convert_to_numpy(v.value) for path, v in zip(self.paths, self.variables)}

    def load(self, tree) -> None:
        expected = {path: tuple(v.shape) for path, v in zip(self.paths, self.variables)}
        got = {path: tuple(np.shape(value)) for path, value in tree.items()}
        if expected != got:
            raise ValueError(
                f"tree does not fit the model: missing {sorted(set(expected) - set(got))[:5]}, "
                f"unexpected {sorted(set(got) - set(expected))[:5]}, "
                f"shapes differ at {sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])[:5]}"
            )
        for path, variable in zip(self.paths, self.variables):
            variable.assign(np.asarray(tree[path], dtype=str(variable.dtype)))

    def randomize(self, seed: int) -> None:
        from keras import ops

        rng = np.random.default_rng(seed)
        for path, variable in zip(self.paths, self.variables):
            values = random_values(path, ops.convert_to_numpy(variable.value), rng)
            variable.assign(values.astype(str(variable.dtype)))

    def run(self, inputs) -> np.ndarray:
        from keras import ops

        return np.asarray(ops.convert_to_numpy(self.forward(self.model, inputs)), dtype=np.float32)


# ---------------------------------------------------------------------------- inputs


def _image(size: int, channels: int = 3) -> Callable[[int], np.ndarray]:
    def make(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((1, channels, size, size)).astype(np.float32)

    return make


def _tokens(vocabulary: int, length: int) -> Callable[[int], np.ndarray]:
    def make(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, vocabulary, (1, length), dtype=np.int64)

    return make


def _vector(features: int) -> Callable[[int], np.ndarray]:
    def make(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((2, features)).astype(np.float32)

    return make


def _torch_in(x):
    import torch

    return torch.from_numpy(np.asarray(x))


def _logits(module, x):
    return module(_torch_in(x))


def _hf_logits(module, x):
    return module(_torch_in(x)).logits


def _hf_hidden(module, x):
    return module(_torch_in(x)).last_hidden_state


def _timm_features(module, x):
    return module.forward_features(_torch_in(x))


# ---------------------------------------------------------------------------- builders: timm


def _timm(name: str, **kwargs) -> Callable[[], Side]:
    def build() -> Side:
        import timm

        return TorchSide(timm.create_model(name, pretrained=False, **kwargs), _logits)

    return build


def _timm_features_side(name: str, **kwargs) -> Callable[[], Side]:
    def build() -> Side:
        import timm

        return TorchSide(timm.create_model(name, pretrained=False, **kwargs), _timm_features)

    return build


# ---------------------------------------------------------------------------- builders: torchvision


def _torchvision(name: str, **kwargs) -> Callable[[], Side]:
    def build() -> Side:
        import torchvision

        return TorchSide(torchvision.models.get_model(name, weights=None, **kwargs), _logits)

    return build


def _torchvision_convnext() -> Side:
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    settings = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, 48, 1), CNBlockConfig(48, 64, 2), CNBlockConfig(64, None, 1)]
    return TorchSide(ConvNeXt(settings, stochastic_depth_prob=0.0, num_classes=10), _logits)


def _torchvision_swin() -> Side:
    from torchvision.models.swin_transformer import SwinTransformer

    model = SwinTransformer(
        patch_size=[4, 4],
        embed_dim=32,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=[4, 4],
        stochastic_depth_prob=0.0,
        num_classes=10,
    )
    return TorchSide(model, _logits)


def _torchvision_vit() -> Side:
    from torchvision.models.vision_transformer import VisionTransformer

    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10
    )
    return TorchSide(model, _logits)


# ---------------------------------------------------------------------------- builders: transformers


def _transformers(config_name: str, model_name: str, forward: Callable = _hf_logits, **config) -> Callable[[], Side]:
    def build() -> Side:
        import transformers

        model = getattr(transformers, model_name)(getattr(transformers, config_name)(**config))
        return TorchSide(model, forward)

    return build


# ---------------------------------------------------------------------------- builders: written here


def _plain_gpt2() -> Side:
    """GPT-2 written with nn.Linear (out, in) weights, where transformers uses Conv1D (in, out)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self, width, heads):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(width, 3 * width)
            self.out = nn.Linear(width, width)

        def forward(self, x):
            batch, length, width = x.shape
            q, k, v = self.qkv(x).split(width, dim=-1)
            q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out(y.transpose(1, 2).reshape(batch, length, width))

    class Block(nn.Module):
        def __init__(self, width, heads):
            super().__init__()
            self.norm1 = nn.LayerNorm(width, eps=1e-5)
            self.attn = Attention(width, heads)
            self.norm2 = nn.LayerNorm(width, eps=1e-5)
            self.up = nn.Linear(width, 4 * width)
            self.down = nn.Linear(4 * width, width)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.down(F.gelu(self.up(self.norm2(x)), approximate="tanh"))

    class GPT2(nn.Module):
        def __init__(self, vocabulary=128, context=48, width=64, depth=2, heads=4):
            super().__init__()
            self.token_embedding = nn.Embedding(vocabulary, width)
            self.position_embedding = nn.Embedding(context, width)
            self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
            self.final_norm = nn.LayerNorm(width, eps=1e-5)

        def forward(self, tokens):
            positions = torch.arange(tokens.shape[1])
            x = self.token_embedding(tokens) + self.position_embedding(positions)
            for block in self.blocks:
                x = block(x)
            return self.final_norm(x)

    return TorchSide(GPT2(context=_CONTEXT), _logits)


def _tiny_torch_convnet():
    from torch import nn
    from torch.nn import functional as F

    class TinyConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.norm = nn.LayerNorm(32, eps=1e-5)
            self.fc1 = nn.Linear(32, 64)
            self.fc2 = nn.Linear(64, 10)

        def forward(self, x):
            x = self.conv2(F.gelu(self.conv1(x))).permute(0, 2, 3, 1)
            x = F.gelu(self.norm(x)).mean(dim=(1, 2))
            return self.fc2(F.gelu(self.fc1(x)))

    return TorchSide(TinyConvNet(), _logits)


def _tiny_flax_convnet() -> Side:
    """The mirror of `_tiny_torch_convnet` in Flax linen: NHWC, (kh, kw, in, out) kernels."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    class TinyConvNet(linen.Module):
        @linen.compact
        def __call__(self, x):
            x = linen.gelu(linen.Conv(16, (3, 3), padding=1)(x), approximate=False)
            x = linen.Conv(32, (3, 3), strides=2, padding=1)(x)
            x = linen.gelu(linen.LayerNorm(epsilon=1e-5)(x), approximate=False).mean(axis=(1, 2))
            x = linen.gelu(linen.Dense(64)(x), approximate=False)
            return linen.Dense(10)(x)

    model = TinyConvNet()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)))
    return JaxSide(variables, jax.jit(lambda v, x: model.apply(v, jnp.transpose(x, (0, 2, 3, 1)))))


def _torch_mlp() -> Side:
    from torch import nn

    model = nn.Sequential(
        nn.Linear(16, 32), nn.GELU(), nn.LayerNorm(32, eps=1e-5), nn.Linear(32, 24), nn.GELU(), nn.Linear(24, 8)
    )
    return TorchSide(model, _logits)


def _haiku_mlp() -> Side:
    import haiku as hk
    import jax
    import jax.numpy as jnp

    def gelu(x):
        return jax.nn.gelu(x, approximate=False)

    def forward(x):
        x = gelu(hk.Linear(32)(x))
        x = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, eps=1e-5)(x)
        return hk.nets.MLP([24, 8], activation=gelu)(x)

    model = hk.without_apply_rng(hk.transform(forward))
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 16)))
    return JaxSide(params, jax.jit(model.apply))


# ---------------------------------------------------------------------------- builders: keras-hub

_TEXT_LENGTH = 16


def _keras_hub(model_name: str, forward: Callable, **config) -> Callable[[], Side]:
    def build() -> Side:
        import keras_hub

        return KerasSide(getattr(keras_hub.models, model_name)(**config), forward)

    return build


def _keras_decoder(model, tokens):
    tokens = np.asarray(tokens, dtype=np.int32)
    return model({"token_ids": tokens, "padding_mask": np.ones_like(tokens)})


def _segments(tokens: np.ndarray) -> np.ndarray:
    """BERT's token types for `tokens`: the first half is segment 0, the second segment 1."""
    segments = np.zeros_like(tokens)
    segments[:, tokens.shape[1] // 2 :] = 1
    return segments


def _keras_bert(model, tokens):
    tokens = np.asarray(tokens, dtype=np.int32)
    segments = _segments(tokens)
    return model({"token_ids": tokens, "segment_ids": segments, "padding_mask": np.ones_like(tokens)})["sequence_output"]


def _hf_bert(module, tokens):
    tokens = np.asarray(tokens)
    return module(input_ids=_torch_in(tokens), token_type_ids=_torch_in(_segments(tokens))).last_hidden_state


def _encoder_decoder_tokens(vocabulary: int) -> Callable[[int], dict]:
    def make(seed: int) -> dict:
        rng = np.random.default_rng(seed)
        return {
            "encoder": rng.integers(0, vocabulary, (1, _TEXT_LENGTH), dtype=np.int64),
            "decoder": rng.integers(0, vocabulary, (1, _TEXT_LENGTH // 2), dtype=np.int64),
        }

    return make


def _hf_t5(module, tokens):
    return module(
        input_ids=_torch_in(tokens["encoder"]), decoder_input_ids=_torch_in(tokens["decoder"])
    ).last_hidden_state


def _keras_t5(model, tokens):
    encoder = np.asarray(tokens["encoder"], dtype=np.int32)
    decoder = np.asarray(tokens["decoder"], dtype=np.int32)
    outputs = model(
        {
            "encoder_token_ids": encoder,
            "encoder_padding_mask": np.ones_like(encoder),
            "decoder_token_ids": decoder,
            "decoder_padding_mask": np.ones_like(decoder),
        }
    )
    return outputs["decoder_sequence_output"]


# ---------------------------------------------------------------------------- builders: fused and stacked weights


def _transformers_bert_encoder(**config) -> Callable[[], Side]:
    """transformers' BertModel without its pooler: the zoo compares the last hidden state."""

    def build() -> Side:
        import transformers

        return TorchSide(transformers.BertModel(transformers.BertConfig(**config), add_pooling_layer=False), _hf_bert)

    return build


def _torch_encoder_bert(
    vocabulary: int, context: int, segments: int, width: int, depth: int, heads: int, intermediate: int, eps: float
) -> Callable[[], Side]:
    """BERT built on torch.nn.TransformerEncoder: post-norm layers whose q, k and v are one `in_proj_weight`."""

    def build() -> Side:
        import torch
        from torch import nn

        class Embeddings(nn.Module):
            def __init__(self):
                super().__init__()
                self.word = nn.Embedding(vocabulary, width)
                self.position = nn.Embedding(context, width)
                self.segment = nn.Embedding(segments, width)
                self.norm = nn.LayerNorm(width, eps=eps)

            def forward(self, tokens, segment_ids):
                positions = torch.arange(tokens.shape[1])
                return self.norm(self.word(tokens) + self.position(positions) + self.segment(segment_ids))

        class Bert(nn.Module):
            def __init__(self):
                super().__init__()
                self.embeddings = Embeddings()
                layer = nn.TransformerEncoderLayer(
                    width,
                    heads,
                    intermediate,
                    dropout=0.0,
                    activation="gelu",
                    layer_norm_eps=eps,
                    batch_first=True,
                    norm_first=False,
                )
                self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

            def forward(self, tokens, segment_ids):
                return self.encoder(self.embeddings(tokens, segment_ids))

        def forward(module, tokens):
            tokens = np.asarray(tokens)
            return module(_torch_in(tokens), _torch_in(_segments(tokens)))

        return TorchSide(Bert(), forward)

    return build


def _original_mixtral(
    vocabulary: int,
    width: int,
    depth: int,
    heads: int,
    kv_heads: int,
    hidden: int,
    experts: int,
    experts_per_token: int,
    eps: float,
    rope_theta: float,
) -> Callable[[], Side]:
    """Mixtral in the layout of its original release: `tok_embeddings`, `layers.{l}.attention.wq`,
    `layers.{l}.feed_forward.gate`, one module per expert with `w1`, `w2`, `w3`, `norm`, `output`.

    Routing as released: softmax over the top-k gate logits (the same numbers as transformers'
    softmax over all experts renormalised over the top k). Rotary embeddings rotate the two halves
    of each head as transformers does; the release rotates interleaved pairs, which transformers'
    conversion turns into a permutation of the rows of wq and wk within each head.
    """

    def build() -> Side:
        import torch
        from torch import nn
        from torch.nn import functional as F

        head_dim = width // heads

        class RMSNorm(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(width))

            def forward(self, x):
                return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

        def rotate(x, cos, sin):
            first, second = x.chunk(2, dim=-1)
            return x * cos + torch.cat((-second, first), dim=-1) * sin

        class Attention(nn.Module):
            def __init__(self):
                super().__init__()
                self.wq = nn.Linear(width, heads * head_dim, bias=False)
                self.wk = nn.Linear(width, kv_heads * head_dim, bias=False)
                self.wv = nn.Linear(width, kv_heads * head_dim, bias=False)
                self.wo = nn.Linear(heads * head_dim, width, bias=False)

            def forward(self, x, cos, sin):
                batch, length, _ = x.shape
                q = self.wq(x).view(batch, length, heads, head_dim).transpose(1, 2)
                k = self.wk(x).view(batch, length, kv_heads, head_dim).transpose(1, 2)
                v = self.wv(x).view(batch, length, kv_heads, head_dim).transpose(1, 2)
                q, k = rotate(q, cos, sin), rotate(k, cos, sin)
                k = k.repeat_interleave(heads // kv_heads, dim=1)
                v = v.repeat_interleave(heads // kv_heads, dim=1)
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                return self.wo(y.transpose(1, 2).reshape(batch, length, heads * head_dim))

        class FeedForward(nn.Module):
            def __init__(self):
                super().__init__()
                self.w1 = nn.Linear(width, hidden, bias=False)
                self.w2 = nn.Linear(hidden, width, bias=False)
                self.w3 = nn.Linear(width, hidden, bias=False)

            def forward(self, x):
                return self.w2(F.silu(self.w1(x)) * self.w3(x))

        class MoeLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = nn.Linear(width, experts, bias=False)
                self.experts = nn.ModuleList(FeedForward() for _ in range(experts))

            def forward(self, x):
                flat = x.reshape(-1, width)
                weights, chosen = torch.topk(self.gate(flat), experts_per_token)
                weights = F.softmax(weights, dim=1, dtype=torch.float).to(x.dtype)
                out = torch.zeros_like(flat)
                for index, expert in enumerate(self.experts):
                    token, slot = torch.where(chosen == index)
                    out[token] += weights[token, slot, None] * expert(flat[token])
                return out.view_as(x)

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.attention = Attention()
                self.feed_forward = MoeLayer()
                self.attention_norm = RMSNorm()
                self.ffn_norm = RMSNorm()

            def forward(self, x, cos, sin):
                x = x + self.attention(self.attention_norm(x), cos, sin)
                return x + self.feed_forward(self.ffn_norm(x))

        class Transformer(nn.Module):
            def __init__(self):
                super().__init__()
                self.tok_embeddings = nn.Embedding(vocabulary, width)
                self.layers = nn.ModuleList(Block() for _ in range(depth))
                self.norm = RMSNorm()
                self.output = nn.Linear(width, vocabulary, bias=False)
                frequencies = 1.0 / rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim)
                self.register_buffer("frequencies", frequencies, persistent=False)

            def forward(self, tokens):
                angles = torch.arange(tokens.shape[1], dtype=torch.float)[:, None] * self.frequencies
                angles = torch.cat((angles, angles), dim=-1)
                cos, sin = angles.cos(), angles.sin()
                x = self.tok_embeddings(tokens)
                for layer in self.layers:
                    x = layer(x, cos, sin)
                return self.output(self.norm(x))

        return TorchSide(Transformer(), _logits)

    return build


def _clip_inputs(vocabulary: int, context: int, image_size: int) -> Callable[[int], dict]:
    """Two images and three texts; each text ends in the end token (the vocabulary's last id) and zero padding."""

    def make(seed: int) -> dict:
        rng = np.random.default_rng(seed)
        images = rng.standard_normal((2, 3, image_size, image_size)).astype(np.float32)
        texts = rng.integers(1, vocabulary - 1, (3, context), dtype=np.int64)
        for row, end in enumerate(rng.integers(context // 2, context, 3)):
            texts[row, end] = vocabulary - 1
            texts[row, end + 1 :] = 0
        return {"images": images, "texts": texts}

    return make


def _clip_outputs(images, texts, logits):
    import torch

    return torch.cat([images.flatten(), texts.flatten(), logits.flatten()])


def _hf_clip(module, inputs):
    out = module(input_ids=_torch_in(inputs["texts"]), pixel_values=_torch_in(inputs["images"]))
    return _clip_outputs(out.image_embeds, out.text_embeds, out.logits_per_image)


def _open_clip(embed_dim: int, vision: dict, text: dict) -> Callable[[], Side]:
    """open_clip's CLIP with OpenAI's QuickGELU (open_clip_torch comes with the test extra)."""

    def build() -> Side:
        from open_clip.model import CLIP

        def forward(module, inputs):
            images = module.encode_image(_torch_in(inputs["images"]), normalize=True)
            texts = module.encode_text(_torch_in(inputs["texts"]), normalize=True)
            return _clip_outputs(images, texts, module.logit_scale.exp() * images @ texts.T)

        return TorchSide(CLIP(embed_dim, vision_cfg=vision, text_cfg=text, quick_gelu=True), forward)

    return build


# ---------------------------------------------------------------------------- the pairs

_VOCABULARY = 128
# Not the hidden size: a square position table is a coincidence no real checkpoint has.
_CONTEXT = 48
# The random weights keep their init's scale; where q and k meet in bidirectional attention,
# a larger init keeps the check able to tell them apart.
_SHARP_ATTENTION = (
    "sets the scale of the random weights: at std 0.02 attention is nearly uniform "
    "and a swapped q and k can move the output by less than the tolerance."
)
# CLIP's text tower always sees its whole context, padded after the end token.
_CLIP_CONTEXT = 16


# timm's `vit` below in transformers' terms; the vision family builds its keras-hub ViTs from it too.
HF_VIT = dict(
    image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
)


def hand_picked_pairs() -> list[ZooPair]:
    vit = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, num_classes=10)
    hf_vit = dict(HF_VIT, num_labels=10, layer_norm_eps=1e-6)
    swin = dict(embed_dim=32, depths=(2, 2), num_heads=(2, 4), window_size=4, num_classes=10)
    convnext = dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), num_classes=10)
    hf_convnext = dict(
        num_stages=4, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 2, 1], num_labels=10, layer_norm_eps=1e-6
    )
    hf_bert = dict(
        vocab_size=_VOCABULARY,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=_CONTEXT,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
    )
    # Phi-3 and Llama agree when everything below is equal: silu, rms_norm_eps, default rope
    # with one theta over the whole head, no biases, untied embeddings. The intermediate size
    # keeps gate_up_proj's rows apart from qkv_proj's (192 with four key/value heads, 128 with two).
    decoder = dict(
        vocab_size=_VOCABULARY,
        hidden_size=64,
        intermediate_size=112,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=_CONTEXT,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    phi3 = dict(decoder, eos_token_id=2, pad_token_id=None)
    # One Mixtral in both layouts: each name below is the same number on both sides.
    mixtral = dict(width=64, depth=2, heads=4, kv_heads=2, hidden=96, experts=4, experts_per_token=2, eps=1e-5)
    hf_mixtral = dict(
        vocab_size=_VOCABULARY,
        hidden_size=mixtral["width"],
        num_hidden_layers=mixtral["depth"],
        num_attention_heads=mixtral["heads"],
        num_key_value_heads=mixtral["kv_heads"],
        intermediate_size=mixtral["hidden"],
        num_local_experts=mixtral["experts"],
        num_experts_per_tok=mixtral["experts_per_token"],
        rms_norm_eps=mixtral["eps"],
        rope_theta=1e6,
        max_position_embeddings=_CONTEXT,
        tie_word_embeddings=False,
    )
    original_mixtral = _original_mixtral(vocabulary=_VOCABULARY, rope_theta=1e6, **mixtral)
    # open_clip takes a head width where transformers takes a head count: 64 / 16 = 4 heads.
    clip_text = dict(context_length=_CLIP_CONTEXT, vocab_size=_VOCABULARY, width=48, heads=4, layers=2, mlp_ratio=2.0)
    clip_vision = dict(image_size=32, patch_size=8, width=64, head_width=16, layers=2, mlp_ratio=2.0)
    hf_clip = dict(
        projection_dim=32,
        text_config=dict(
            vocab_size=_VOCABULARY,
            max_position_embeddings=_CLIP_CONTEXT,
            hidden_size=48,
            num_attention_heads=4,
            num_hidden_layers=2,
            intermediate_size=96,
            hidden_act="quick_gelu",
            layer_norm_eps=1e-5,
            pad_token_id=0,
            bos_token_id=_VOCABULARY - 2,
            eos_token_id=_VOCABULARY - 1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=64,
            num_attention_heads=4,
            num_hidden_layers=2,
            intermediate_size=128,
            hidden_act="quick_gelu",
            layer_norm_eps=1e-5,
        ),
    )
    return [
        ZooPair(
            name="resnet50: torchvision -> timm",
            family="ResNet-50",
            source="torchvision",
            target="timm",
            fast=True,
            notes="",
            build_source=_torchvision("resnet50"),
            build_target=_timm("resnet50"),
            make_input=_image(64),
        ),
        ZooPair(
            name="resnet50: transformers -> timm",
            family="ResNet-50",
            source="transformers",
            target="timm",
            fast=True,
            notes="ResNetConfig defaults are ResNet-50 v1.5 (stride on the 3x3 conv), as timm's resnet50.",
            build_source=_transformers("ResNetConfig", "ResNetForImageClassification", num_labels=1000),
            build_target=_timm("resnet50"),
            make_input=_image(64),
        ),
        ZooPair(
            name="resnext50: torchvision -> timm",
            family="ResNeXt-50 32x4d",
            source="torchvision",
            target="timm",
            fast=False,
            notes="",
            build_source=_torchvision("resnext50_32x4d"),
            build_target=_timm("resnext50_32x4d"),
            make_input=_image(64),
        ),
        ZooPair(
            name="convnext: torchvision -> timm",
            family="ConvNeXt",
            source="torchvision",
            target="timm",
            fast=False,
            notes="Four stages of 1, 1, 2, 1 blocks, widths 16 to 64; layer scale is (C, 1, 1) in torchvision and (C,) in timm.",
            build_source=_torchvision_convnext,
            build_target=_timm("convnext_tiny", **convnext),
            make_input=_image(64),
        ),
        ZooPair(
            name="convnext: transformers -> timm",
            family="ConvNeXt",
            source="transformers",
            target="timm",
            fast=True,
            notes="layer_norm_eps=1e-6 as timm (transformers defaults to 1e-12 for the final norm).",
            build_source=_transformers("ConvNextConfig", "ConvNextForImageClassification", **hf_convnext),
            build_target=_timm("convnext_tiny", **convnext),
            make_input=_image(64),
        ),
        ZooPair(
            name="convnextv2: transformers -> timm",
            family="ConvNeXt-V2",
            source="transformers",
            target="timm",
            fast=True,
            notes="layer_norm_eps=1e-6 as timm; GRN gamma/beta are (1, 1, 1, C) in transformers and (C,) in timm.",
            build_source=_transformers("ConvNextV2Config", "ConvNextV2ForImageClassification", **hf_convnext),
            build_target=_timm("convnextv2_tiny", **convnext),
            make_input=_image(64),
        ),
        ZooPair(
            name="swin: transformers -> timm",
            family="Swin Transformer",
            source="transformers",
            target="timm",
            fast=False,
            notes="64x64 images, patch 4, window 4, two stages of two blocks (one shifted).",
            build_source=_transformers(
                "SwinConfig",
                "SwinForImageClassification",
                image_size=64,
                patch_size=4,
                embed_dim=32,
                depths=[2, 2],
                num_heads=[2, 4],
                window_size=4,
                drop_path_rate=0.0,
                num_labels=10,
            ),
            build_target=_timm("swin_tiny_patch4_window7_224", img_size=64, **swin),
            make_input=_image(64),
        ),
        ZooPair(
            name="swin: torchvision -> timm",
            family="Swin Transformer",
            source="torchvision",
            target="timm",
            fast=False,
            notes="64x64 images, patch 4, window 4, two stages of two blocks (one shifted).",
            build_source=_torchvision_swin,
            build_target=_timm("swin_tiny_patch4_window7_224", img_size=64, **swin),
            make_input=_image(64),
        ),
        ZooPair(
            name="vit: transformers -> timm",
            family="ViT",
            source="transformers",
            target="timm",
            fast=False,
            notes="layer_norm_eps=1e-6 as timm; transformers keeps q, k, v apart, timm fuses them into qkv. "
            "initializer_range=0.1 " + _SHARP_ATTENTION,
            build_source=_transformers("ViTConfig", "ViTForImageClassification", initializer_range=0.1, **hf_vit),
            build_target=_timm("vit_tiny_patch16_224", **vit),
            make_input=_image(32),
        ),
        ZooPair(
            name="vit: timm -> transformers",
            family="ViT",
            source="timm",
            target="transformers",
            fast=False,
            notes="layer_norm_eps=1e-6 as timm; timm's fused qkv splits into transformers' q, k and v. "
            "timm's JAX-style (xavier) init " + _SHARP_ATTENTION,
            build_source=_timm("vit_tiny_patch16_224", weight_init="jax", **vit),
            build_target=_transformers("ViTConfig", "ViTForImageClassification", **hf_vit),
            make_input=_image(32),
        ),
        ZooPair(
            name="vit: torchvision -> timm",
            family="ViT",
            source="torchvision",
            target="timm",
            fast=True,
            notes="",
            build_source=_torchvision_vit,
            build_target=_timm("vit_tiny_patch16_224", **vit),
            make_input=_image(32),
        ),
        ZooPair(
            name="deit-distilled: transformers -> timm",
            family="DeiT (distilled)",
            source="transformers",
            target="timm",
            fast=False,
            notes="layer_norm_eps=1e-6 as timm; eval logits are the mean of the class and distillation heads on both sides.",
            build_source=_transformers("DeiTConfig", "DeiTForImageClassificationWithTeacher", **hf_vit),
            build_target=_timm("deit_tiny_distilled_patch16_224", **vit),
            make_input=_image(32),
        ),
        ZooPair(
            name="dinov2: transformers -> timm",
            family="DINOv2",
            source="transformers",
            target="timm",
            fast=False,
            notes="Compares the normed token features; layer scale on both sides (timm init_values).",
            build_source=_transformers(
                "Dinov2Config",
                "Dinov2Model",
                _hf_hidden,
                image_size=32,
                patch_size=8,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                mlp_ratio=4,
            ),
            build_target=_timm_features_side(
                "vit_small_patch14_dinov2", img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=0
            ),
            make_input=_image(32),
        ),
        ZooPair(
            name="mobilenetv2: torchvision -> timm",
            family="MobileNetV2",
            source="torchvision",
            target="timm",
            fast=True,
            notes="",
            build_source=_torchvision("mobilenet_v2"),
            build_target=_timm("mobilenetv2_100"),
            make_input=_image(64),
        ),
        ZooPair(
            name="densenet121: torchvision -> timm",
            family="DenseNet-121",
            source="torchvision",
            target="timm",
            fast=False,
            notes="",
            build_source=_torchvision("densenet121"),
            build_target=_timm("densenet121"),
            make_input=_image(64),
        ),
        ZooPair(
            name="efficientnet_b0: torchvision -> timm",
            family="EfficientNet-B0",
            source="torchvision",
            target="timm",
            fast=False,
            notes="",
            build_source=_torchvision("efficientnet_b0"),
            build_target=_timm("efficientnet_b0"),
            make_input=_image(64),
        ),
        ZooPair(
            name="gpt2: transformers -> torch nn.Linear",
            family="GPT-2",
            source="transformers",
            target="torch",
            fast=False,
            notes="Conv1D weights are (in, out), nn.Linear's (out, in); square ones too. gelu_new (tanh) on both sides.",
            build_source=_transformers(
                "GPT2Config",
                "GPT2Model",
                _hf_hidden,
                vocab_size=_VOCABULARY,
                n_positions=_CONTEXT,
                n_embd=64,
                n_layer=2,
                n_head=4,
                activation_function="gelu_new",
                layer_norm_epsilon=1e-5,
            ),
            build_target=_plain_gpt2,
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="gpt2: transformers -> keras-hub",
            family="GPT-2",
            source="transformers",
            target="keras-hub",
            fast=False,
            notes="Keras splits the fused c_attn into per-head query, key and value kernels.",
            build_source=_transformers(
                "GPT2Config",
                "GPT2Model",
                _hf_hidden,
                vocab_size=_VOCABULARY,
                n_positions=_CONTEXT,
                n_embd=64,
                n_layer=2,
                n_head=4,
                activation_function="gelu_new",
                layer_norm_epsilon=1e-5,
            ),
            build_target=_keras_hub(
                "GPT2Backbone",
                _keras_decoder,
                vocabulary_size=_VOCABULARY,
                num_layers=2,
                num_heads=4,
                hidden_dim=64,
                intermediate_dim=256,
                dropout=0.0,
                max_sequence_length=_CONTEXT,
            ),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="llama: transformers -> keras-hub",
            family="Llama",
            source="transformers",
            target="keras-hub",
            fast=False,
            notes="rms_norm_eps=1e-6 on both sides; grouped-query attention (4 query, 2 key/value heads); "
            "keras ties the output embedding so that both sides hold one token table.",
            build_source=_transformers(
                "LlamaConfig",
                "LlamaModel",
                _hf_hidden,
                vocab_size=_VOCABULARY,
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=_CONTEXT,
                rms_norm_eps=1e-6,
            ),
            build_target=_keras_hub(
                "LlamaBackbone",
                _keras_decoder,
                vocabulary_size=_VOCABULARY,
                num_layers=2,
                num_query_heads=4,
                hidden_dim=64,
                intermediate_dim=128,
                num_key_value_heads=2,
                layer_norm_epsilon=1e-6,
                tie_word_embeddings=True,
            ),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="bert: transformers -> keras-hub",
            family="BERT",
            source="transformers",
            target="keras-hub",
            fast=False,
            notes="layer_norm_eps=1e-12 and exact GELU on both sides; two segments.",
            build_source=_transformers("BertConfig", "BertModel", _hf_bert, **hf_bert),
            build_target=_keras_hub(
                "BertBackbone",
                _keras_bert,
                vocabulary_size=_VOCABULARY,
                num_layers=2,
                num_heads=4,
                hidden_dim=64,
                intermediate_dim=128,
                dropout=0.0,
                max_sequence_length=_CONTEXT,
                num_segments=2,
            ),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="t5: transformers -> keras-hub",
            family="T5",
            source="transformers",
            target="keras-hub",
            fast=False,
            notes="T5 v1.0 feed-forward (ReLU, not gated) and layer_norm_epsilon=1e-6 on both sides; "
            "compares the decoder's last hidden state.",
            build_source=_transformers(
                "T5Config",
                "T5Model",
                _hf_t5,
                vocab_size=_VOCABULARY,
                d_model=64,
                d_kv=16,
                d_ff=128,
                num_layers=2,
                num_decoder_layers=2,
                num_heads=4,
                feed_forward_proj="relu",
                dropout_rate=0.0,
                layer_norm_epsilon=1e-6,
            ),
            build_target=_keras_hub(
                "T5Backbone",
                _keras_t5,
                vocabulary_size=_VOCABULARY,
                num_layers=2,
                num_heads=4,
                hidden_dim=64,
                intermediate_dim=128,
                key_value_dim=16,
                dropout=0.0,
                activation="relu",
                use_gated_activation=False,
                layer_norm_epsilon=1e-6,
                tie_embedding_weights=True,
            ),
            make_input=_encoder_decoder_tokens(_VOCABULARY),
        ),
        ZooPair(
            name="convnet: torch -> flax",
            family="small ConvNet",
            source="torch",
            target="flax",
            fast=True,
            notes="Written as mirrors: LayerNorm eps=1e-5 and exact GELU set on the Flax side (its defaults are 1e-6 and tanh).",
            build_source=_tiny_torch_convnet,
            build_target=_tiny_flax_convnet,
            make_input=_image(32),
        ),
        ZooPair(
            name="mlp: torch -> haiku",
            family="small MLP",
            source="torch",
            target="haiku",
            fast=False,
            notes="Written as mirrors: LayerNorm eps=1e-5 and exact GELU on both sides.",
            build_source=_torch_mlp,
            build_target=_haiku_mlp,
            make_input=_vector(16),
        ),
        ZooPair(
            name="bert: transformers -> torch nn.TransformerEncoder",
            family="BERT",
            source="transformers",
            target="torch",
            fast=True,
            notes="Agree: vocabulary, positions (max_position_embeddings), two segments, width, depth, heads, "
            "intermediate size, exact GELU, post-norm (norm_first=False) and LayerNorm eps 1e-12 everywhere, "
            "embeddings included. BertModel without its pooler; q, k, v are one in_proj_weight in torch. "
            "initializer_range=0.1 " + _SHARP_ATTENTION,
            build_source=_transformers_bert_encoder(hidden_act="gelu", initializer_range=0.1, **hf_bert),
            build_target=_torch_encoder_bert(
                vocabulary=_VOCABULARY,
                context=_CONTEXT,
                segments=2,
                width=64,
                depth=2,
                heads=4,
                intermediate=128,
                eps=1e-12,
            ),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="mixtral: original -> transformers",
            family="Mixtral",
            source="torch",
            target="transformers",
            fast=True,
            notes="Four experts, two per token, 4 query and 2 key/value heads, rope_theta 1e6, rms eps 1e-5, "
            "untied output. Per-expert w1, w3 stack and concatenate into experts.gate_up_proj (E, 2I, H), "
            "w2 into experts.down_proj; both sides rotate halves of each head (see _original_mixtral).",
            build_source=original_mixtral,
            build_target=_transformers("MixtralConfig", "MixtralForCausalLM", **hf_mixtral),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="mixtral: transformers -> original",
            family="Mixtral",
            source="transformers",
            target="torch",
            fast=True,
            notes="The inverse of mixtral: original -> transformers: the stacked experts split into one module each.",
            build_source=_transformers("MixtralConfig", "MixtralForCausalLM", **hf_mixtral),
            build_target=original_mixtral,
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="gated-mlp: transformers phi3 -> transformers llama",
            family="Phi-3 / Llama",
            source="transformers",
            target="transformers",
            fast=True,
            notes="Phi-3's gate_up_proj (gate rows first) splits into Llama's gate_proj and up_proj; four key/value "
            "heads, so Phi-3's qkv_proj splits into three equal parts. Configs agree as listed at `decoder`.",
            build_source=_transformers("Phi3Config", "Phi3Model", _hf_hidden, num_key_value_heads=4, **phi3),
            build_target=_transformers("LlamaConfig", "LlamaModel", _hf_hidden, num_key_value_heads=4, **decoder),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="gqa: transformers llama -> transformers phi3",
            family="Phi-3 / Llama",
            source="transformers",
            target="transformers",
            fast=True,
            notes="Grouped-query attention, 4 query and 2 key/value heads: Llama's q_proj (64 rows), k_proj and "
            "v_proj (32 rows each) concatenate into Phi-3's qkv_proj (128 rows); gate_proj and up_proj into "
            "gate_up_proj. Configs agree as listed at `decoder`.",
            build_source=_transformers("LlamaConfig", "LlamaModel", _hf_hidden, num_key_value_heads=2, **decoder),
            build_target=_transformers("Phi3Config", "Phi3Model", _hf_hidden, num_key_value_heads=2, **phi3),
            make_input=_tokens(_VOCABULARY, _TEXT_LENGTH),
        ),
        ZooPair(
            name="clip: open_clip -> transformers",
            family="CLIP",
            source="open_clip",
            target="transformers",
            fast=False,
            notes="QuickGELU and LayerNorm eps 1e-5 in both towers, text "
            "context 16 = max_position_embeddings, pooling at the end token (the highest id, so open_clip's argmax "
            "and transformers' eos_token_id agree). Compares normalised image and text embeddings and the logits, "
            "so logit_scale counts; open_clip's in_proj_weight splits into q, k, v, and its (in, out) "
            "text_projection and visual.proj are transformers' (out, in) projections transposed.",
            build_source=_open_clip(32, clip_vision, clip_text),
            build_target=_transformers("CLIPConfig", "CLIPModel", _hf_clip, **hf_clip),
            make_input=_clip_inputs(_VOCABULARY, _CLIP_CONTEXT, 32),
        ),
    ]

