"""Original release code, re-created, and JAX targets written here, against the libraries' implementations.

Each model below follows the names and layouts of the code it re-creates (Facebook's ConvNeXt V1
and V2, Google's Flax ViT, OpenAI's Whisper and GPT-2, Karpathy's nanoGPT, Meta's Llama, the Flax examples'
ResNet, T5X's T5) or of the JAX framework it is written in (Flax linen and NNX, Haiku, Equinox). Every pair is proven by a mapping
written by hand: explicit rules, one per kind of weight, `my` name pattern -> their name and transform.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Callable

import numpy as np

from benchmarks.zoo.pairs import (
    _TEXT_LENGTH,
    JaxSide,
    TorchSide,
    ZooPair,
    _encoder_decoder_tokens,
    _hf_hidden,
    _hf_bert,
    _hf_logits,
    _image,
    _logits,
    _original_mixtral,
    _segments,
    _timm,
    _tokens,
    _torch_in,
    _torchvision_vit,
    random_values,
)

_VOCABULARY = 128
# Not the hidden size: a square position table is a coincidence no real checkpoint has.
_CONTEXT = 48


# ---------------------------------------------------------------------------- proofs by explicit rules


def _numpy(leaf) -> np.ndarray:
    if hasattr(leaf, "detach"):
        return leaf.detach().cpu().numpy()
    return np.asarray(leaf)


def _flat(tree, prefix: str = "") -> dict:
    """A nested tree's leaves by "/"-joined path; a torch state dict keeps its own keys."""
    if hasattr(tree, "items") and not hasattr(tree, "shape"):
        found = {}
        for key, value in tree.items():
            found.update(_flat(value, f"{prefix}{key}/"))
        return found
    return {prefix[:-1]: tree}


def _shaped_like(my, values: dict, prefix: str = ""):
    if hasattr(my, "items") and not hasattr(my, "shape"):
        return {key: _shaped_like(value, values, f"{prefix}{key}/") for key, value in my.items()}
    value = values[prefix[:-1]]
    if hasattr(my, "detach"):
        import torch

        return torch.from_numpy(np.array(value)).to(my.dtype)
    return value


def _same(array):
    return array


def _transpose(array):
    return array.T


def _dense(mine: str, theirs: str, weight: str = "kernel", bias: str = "bias", transform=_transpose) -> list:
    """A torch Linear's two leaves under the JAX names `weight` and `bias`."""
    return [(f"{mine}/{weight}", f"{theirs}.weight", transform), (f"{mine}/{bias}", f"{theirs}.bias", _same)]


def _norm(mine: str, theirs: str, scale: str = "scale", bias: str = "bias") -> list:
    return [(f"{mine}/{scale}", f"{theirs}.weight", _same), (f"{mine}/{bias}", f"{theirs}.bias", _same)]


def _renamed(modules, leaves=("weight", "bias")) -> list:
    """Torch to torch: each `(my_module, their_module)` with the same leaf names and layout."""
    return [(f"{mine}.{leaf}", f"{theirs}.{leaf}", _same) for mine, theirs in modules for leaf in leaves]


def _pattern(template: str):
    """`stages.{i}.blocks.{j}.gamma` as a regular expression: each `{name}` one path component."""
    pieces = re.split(r"\{(\w+)\}", template)
    expression = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^./]+)" for index, piece in enumerate(pieces))
    return re.compile(expression)


def _by_rules(rules) -> Callable:
    """A proof from rules `(my_template, their_template, transform)`: the first `my` template that matches
    a whole `my` path names its source (the placeholders carry over) and how to reshape it. A `my` path
    that no rule matches, or a transform that lands on another shape, is an error of the proof."""
    compiled = [(_pattern(mine), theirs, transform) for mine, theirs, transform in rules]

    def prove(their, my):
        sources = {key: _numpy(value) for key, value in _flat(their).items()}
        values = {}
        for key, leaf in _flat(my).items():
            for pattern, template, transform in compiled:
                match = pattern.fullmatch(key)
                if match:
                    names = template if isinstance(template, tuple) else (template,)
                    found = [sources[name.format(**match.groupdict())] for name in names]
                    values[key] = np.asarray(transform(*found))
                    break
            else:
                raise KeyError(f"no rule for {key}")
            if values[key].shape != tuple(np.shape(leaf)):
                raise ValueError(f"{key}: the rule gives {values[key].shape}, the model holds {np.shape(leaf)}")
        return _shaped_like(my, values)

    return prove


def _reversed(rules, inverses: dict) -> list:
    """The rules of the opposite direction; `inverses` gives each transform's inverse (a transpose is its own)."""
    return [(theirs, mine, inverses.get(transform, transform)) for mine, theirs, transform in rules]


# ---------------------------------------------------------------------------- Facebook's ConvNeXt V1 and V2


def _original_convnext(version: int, depths, dims, classes: int) -> Callable[[], TorchSide]:
    """facebookresearch/ConvNeXt (V1) and ConvNeXt-V2 as released: `downsample_layers.i.j`,
    `stages.i.j.dwconv/norm/pwconv1/pwconv2` plus `gamma` (V1, layer scale) or `grn` (V2), `norm`, `head`."""

    def build() -> TorchSide:
        import torch
        from torch import nn
        from torch.nn import functional as F

        class LayerNorm(nn.Module):
            """The release's LayerNorm, channels_first for the stem and the downsampling layers."""

            def __init__(self, dim, channels_first):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(dim))
                self.bias = nn.Parameter(torch.zeros(dim))
                self.channels_first = channels_first

            def forward(self, x):
                if not self.channels_first:
                    return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-6)
                mean = x.mean(1, keepdim=True)
                variance = (x - mean).pow(2).mean(1, keepdim=True)
                x = (x - mean) / torch.sqrt(variance + 1e-6)
                return self.weight[:, None, None] * x + self.bias[:, None, None]

        class GRN(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
                self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

            def forward(self, x):
                gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
                nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
                return self.gamma * (x * nx) + self.beta + x

        class Block(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
                self.norm = LayerNorm(dim, channels_first=False)
                self.pwconv1 = nn.Linear(dim, 4 * dim)
                self.act = nn.GELU()
                if version == 2:
                    self.grn = GRN(4 * dim)
                self.pwconv2 = nn.Linear(4 * dim, dim)
                if version == 1:
                    self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

            def forward(self, x):
                y = self.act(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1))))
                if version == 2:
                    y = self.grn(y)
                y = self.pwconv2(y)
                if version == 1:
                    y = self.gamma * y
                return x + y.permute(0, 3, 1, 2)

        class ConvNeXt(nn.Module):
            def __init__(self):
                super().__init__()
                self.downsample_layers = nn.ModuleList(
                    [nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm(dims[0], True))]
                    + [
                        nn.Sequential(LayerNorm(dims[i], True), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2))
                        for i in range(3)
                    ]
                )
                self.stages = nn.ModuleList(nn.Sequential(*(Block(dims[i]) for _ in range(depths[i]))) for i in range(4))
                self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
                self.head = nn.Linear(dims[-1], classes)

            def forward(self, x):
                for downsample, stage in zip(self.downsample_layers, self.stages):
                    x = stage(downsample(x))
                return self.head(self.norm(x.mean([-2, -1])))

        return TorchSide(ConvNeXt(), _logits)

    return build


def _grn_from_original(array):
    return array.reshape(-1)


def _grn_to_original(array):
    return array.reshape(1, 1, 1, -1)


# timm <- Facebook's release, V1 and V2 (a model holds gamma or grn, never both).
_CONVNEXT_RULES = _renamed(
    [
        ("stem.0", "downsample_layers.0.0"),
        ("stem.1", "downsample_layers.0.1"),
        ("stages.{i}.downsample.0", "downsample_layers.{i}.0"),
        ("stages.{i}.downsample.1", "downsample_layers.{i}.1"),
        ("stages.{i}.blocks.{j}.conv_dw", "stages.{i}.{j}.dwconv"),
        ("stages.{i}.blocks.{j}.norm", "stages.{i}.{j}.norm"),
        ("stages.{i}.blocks.{j}.mlp.fc1", "stages.{i}.{j}.pwconv1"),
        ("stages.{i}.blocks.{j}.mlp.fc2", "stages.{i}.{j}.pwconv2"),
        ("head.norm", "norm"),
        ("head.fc", "head"),
    ]
) + [
    ("stages.{i}.blocks.{j}.gamma", "stages.{i}.{j}.gamma", _same),
    ("stages.{i}.blocks.{j}.mlp.grn.weight", "stages.{i}.{j}.grn.gamma", _grn_from_original),
    ("stages.{i}.blocks.{j}.mlp.grn.bias", "stages.{i}.{j}.grn.beta", _grn_from_original),
]


# ---------------------------------------------------------------------------- ViT: Flax (fused qkv) and Google's Flax release

_VIT = dict(image=32, patch=8, width=64, depth=2, heads=4, mlp=128, classes=10)


def _flax_vit_fused() -> JaxSide:
    """A Flax linen ViT with one fused `Dense_0` (q, k, v) per block, images NCHW as torch gives them."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    width, heads, patch = _VIT["width"], _VIT["heads"], _VIT["patch"]
    tokens = (_VIT["image"] // patch) ** 2 + 1

    class Block(linen.Module):
        @linen.compact
        def __call__(self, x):
            batch, length, _ = x.shape
            y = linen.LayerNorm(epsilon=1e-6)(x)
            q, k, v = (t.reshape(batch, length, heads, -1) for t in jnp.split(linen.Dense(3 * width)(y), 3, axis=-1))
            attention = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(width // heads), axis=-1)
            x = x + linen.Dense(width)(jnp.einsum("bhqk,bkhd->bqhd", attention, v).reshape(batch, length, width))
            y = linen.gelu(linen.Dense(_VIT["mlp"])(linen.LayerNorm(epsilon=1e-6)(x)), approximate=False)
            return x + linen.Dense(width)(y)

    class ViT(linen.Module):
        @linen.compact
        def __call__(self, images):
            x = linen.Conv(width, (patch, patch), strides=patch, padding="VALID")(jnp.transpose(images, (0, 2, 3, 1)))
            x = x.reshape(x.shape[0], -1, width)
            cls = self.param("cls", linen.initializers.zeros, (1, 1, width))
            x = jnp.concatenate([jnp.broadcast_to(cls, (x.shape[0], 1, width)), x], axis=1)
            x = x + self.param("pos_embedding", linen.initializers.normal(0.02), (1, tokens, width))
            for _ in range(_VIT["depth"]):
                x = Block()(x)
            return linen.Dense(_VIT["classes"])(linen.LayerNorm(epsilon=1e-6)(x)[:, 0])

    model = ViT()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, _VIT["image"], _VIT["image"])))
    return JaxSide(variables, jax.jit(model.apply))


def _conv_to_flax(weight):
    return weight.transpose(2, 3, 1, 0)


def _conv_from_flax(kernel):
    return kernel.transpose(3, 2, 0, 1)


# Flax (fused) <- torchvision's VisionTransformer.
_TORCHVISION_VIT_TO_FLAX = [
    ("params/Conv_0/kernel", "conv_proj.weight", _conv_to_flax),
    ("params/Conv_0/bias", "conv_proj.bias", _same),
    ("params/cls", "class_token", _same),
    ("params/pos_embedding", "encoder.pos_embedding", _same),
    *_norm("params/Block_{i}/LayerNorm_0", "encoder.layers.encoder_layer_{i}.ln_1"),
    ("params/Block_{i}/Dense_0/kernel", "encoder.layers.encoder_layer_{i}.self_attention.in_proj_weight", _transpose),
    ("params/Block_{i}/Dense_0/bias", "encoder.layers.encoder_layer_{i}.self_attention.in_proj_bias", _same),
    *_dense("params/Block_{i}/Dense_1", "encoder.layers.encoder_layer_{i}.self_attention.out_proj"),
    *_norm("params/Block_{i}/LayerNorm_1", "encoder.layers.encoder_layer_{i}.ln_2"),
    *_dense("params/Block_{i}/Dense_2", "encoder.layers.encoder_layer_{i}.mlp.0"),
    *_dense("params/Block_{i}/Dense_3", "encoder.layers.encoder_layer_{i}.mlp.3"),
    *_norm("params/LayerNorm_0", "encoder.ln"),
    *_dense("params/Dense_0", "heads.head"),
]


def _google_flax_vit() -> JaxSide:
    """google-research/vision_transformer's `VisionTransformer` (models_vit.py) in Flax linen, its names
    kept: `embedding`, `cls`, `Transformer/posembed_input`, `encoderblock_i` with `LayerNorm_0`,
    `MultiHeadDotProductAttention_1` (query/key/value kernels (D, heads, head dim)), `LayerNorm_2`,
    `MlpBlock_3`, then `encoder_norm` and `head`. GELU is Flax's default, the tanh approximation."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    width, patch = _VIT["width"], _VIT["patch"]
    tokens = (_VIT["image"] // patch) ** 2 + 1

    class MlpBlock(linen.Module):
        @linen.compact
        def __call__(self, x):
            x = linen.gelu(linen.Dense(_VIT["mlp"])(x))
            return linen.Dense(width)(x)

    class Encoder1DBlock(linen.Module):
        @linen.compact
        def __call__(self, inputs):
            x = linen.LayerNorm(epsilon=1e-6, name="LayerNorm_0")(inputs)
            x = linen.MultiHeadDotProductAttention(num_heads=_VIT["heads"], name="MultiHeadDotProductAttention_1")(x, x)
            x = x + inputs
            y = linen.LayerNorm(epsilon=1e-6, name="LayerNorm_2")(x)
            return x + MlpBlock(name="MlpBlock_3")(y)

    class Transformer(linen.Module):
        @linen.compact
        def __call__(self, x):
            x = AddPositionEmbs(name="posembed_input")(x)
            for index in range(_VIT["depth"]):
                x = Encoder1DBlock(name=f"encoderblock_{index}")(x)
            return linen.LayerNorm(epsilon=1e-6, name="encoder_norm")(x)

    class AddPositionEmbs(linen.Module):
        @linen.compact
        def __call__(self, x):
            return x + self.param("pos_embedding", linen.initializers.normal(0.02), (1, tokens, width))

    class Release(linen.Module):
        @linen.compact
        def __call__(self, images):
            x = linen.Conv(width, (patch, patch), strides=patch, padding="VALID", name="embedding")(
                jnp.transpose(images, (0, 2, 3, 1))
            )
            x = x.reshape(x.shape[0], -1, width)
            cls = self.param("cls", linen.initializers.zeros, (1, 1, width))
            x = jnp.concatenate([jnp.broadcast_to(cls, (x.shape[0], 1, width)), x], axis=1)
            x = Transformer(name="Transformer")(x)
            return linen.Dense(_VIT["classes"], name="head")(x[:, 0])

    model = Release()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, _VIT["image"], _VIT["image"])))
    return JaxSide(variables, jax.jit(model.apply))


def _timm_vit(**settings) -> Callable[[], TorchSide]:
    return _timm(
        "vit_tiny_patch16_224",
        img_size=_VIT["image"],
        patch_size=_VIT["patch"],
        embed_dim=_VIT["width"],
        depth=_VIT["depth"],
        num_heads=_VIT["heads"],
        mlp_ratio=_VIT["mlp"] / _VIT["width"],
        num_classes=_VIT["classes"],
        **settings,
    )


def _qkv_part(index: int, bias: bool) -> Callable:
    """One of q, k, v from timm's fused qkv, shaped as Flax's DenseGeneral (D, heads, head dim)."""
    width, heads = _VIT["width"], _VIT["heads"]

    def part(fused):
        piece = fused[index * width : (index + 1) * width]
        return piece.reshape(heads, -1) if bias else piece.T.reshape(width, heads, -1)

    return part


def _qkv_fused_weight(query, key, value):
    return np.concatenate([kernel.reshape(_VIT["width"], -1).T for kernel in (query, key, value)])


def _qkv_fused_bias(query, key, value):
    return np.concatenate([bias.reshape(-1) for bias in (query, key, value)])


def _attention_out_to_flax(weight):
    return weight.T.reshape(_VIT["heads"], -1, _VIT["width"])


def _attention_out_from_flax(kernel):
    return kernel.reshape(-1, _VIT["width"]).T


_GOOGLE_BLOCK = "params/Transformer/encoderblock_{i}"
_GOOGLE_ATTENTION = _GOOGLE_BLOCK + "/MultiHeadDotProductAttention_1"

# Google's Flax ViT <- timm.
_TIMM_VIT_TO_GOOGLE = [
    ("params/embedding/kernel", "patch_embed.proj.weight", _conv_to_flax),
    ("params/embedding/bias", "patch_embed.proj.bias", _same),
    ("params/cls", "cls_token", _same),
    ("params/Transformer/posembed_input/pos_embedding", "pos_embed", _same),
    *_norm(_GOOGLE_BLOCK + "/LayerNorm_0", "blocks.{i}.norm1"),
    *[
        rule
        for index, name in enumerate(("query", "key", "value"))
        for rule in (
            (f"{_GOOGLE_ATTENTION}/{name}/kernel", "blocks.{i}.attn.qkv.weight", _qkv_part(index, bias=False)),
            (f"{_GOOGLE_ATTENTION}/{name}/bias", "blocks.{i}.attn.qkv.bias", _qkv_part(index, bias=True)),
        )
    ],
    (_GOOGLE_ATTENTION + "/out/kernel", "blocks.{i}.attn.proj.weight", _attention_out_to_flax),
    (_GOOGLE_ATTENTION + "/out/bias", "blocks.{i}.attn.proj.bias", _same),
    *_norm(_GOOGLE_BLOCK + "/LayerNorm_2", "blocks.{i}.norm2"),
    *_dense(_GOOGLE_BLOCK + "/MlpBlock_3/Dense_0", "blocks.{i}.mlp.fc1"),
    *_dense(_GOOGLE_BLOCK + "/MlpBlock_3/Dense_1", "blocks.{i}.mlp.fc2"),
    *_norm("params/Transformer/encoder_norm", "norm"),
    *_dense("params/head", "head"),
]

# timm <- Google's Flax ViT: the one-to-one rules reversed, and q, k, v fused.
_GOOGLE_VIT_TO_TIMM = [
    rule
    for rule in _reversed(
        [rule for rule in _TIMM_VIT_TO_GOOGLE if "attn.qkv" not in rule[1]],
        {_conv_to_flax: _conv_from_flax, _attention_out_to_flax: _attention_out_from_flax},
    )
] + [
    (
        "blocks.{i}.attn.qkv.weight",
        tuple(f"{_GOOGLE_ATTENTION}/{name}/kernel" for name in ("query", "key", "value")),
        _qkv_fused_weight,
    ),
    (
        "blocks.{i}.attn.qkv.bias",
        tuple(f"{_GOOGLE_ATTENTION}/{name}/bias" for name in ("query", "key", "value")),
        _qkv_fused_bias,
    ),
]


# ---------------------------------------------------------------------------- GPT-2: Haiku and nanoGPT, tied and untied heads

_GPT2 = dict(vocabulary=_VOCABULARY, context=_CONTEXT, width=64, depth=2, heads=4)


def _transformers_gpt2(tied: bool, activation: str) -> Callable[[], TorchSide]:
    """transformers' GPT2LMHeadModel; tied, `lm_head.weight` is `transformer.wte.weight` (one tensor, two names)."""

    def build() -> TorchSide:
        import transformers

        config = transformers.GPT2Config(
            vocab_size=_GPT2["vocabulary"],
            n_positions=_GPT2["context"],
            n_embd=_GPT2["width"],
            n_layer=_GPT2["depth"],
            n_head=_GPT2["heads"],
            activation_function=activation,
            layer_norm_epsilon=1e-5,
            tie_word_embeddings=tied,
            bos_token_id=0,
            eos_token_id=0,
        )
        return TorchSide(transformers.GPT2LMHeadModel(config), _hf_logits)

    return build


def _haiku_gpt2(tied: bool) -> Callable[[], JaxSide]:
    """GPT-2 in Haiku: `hk.Linear` (in, out) kernels `w`/`b`, norms `scale`/`offset`, tanh GELU; the
    output head is the token embedding (tied) or its own `lm_head` (untied)."""

    def build() -> JaxSide:
        import haiku as hk
        import jax
        import jax.numpy as jnp

        width, heads = _GPT2["width"], _GPT2["heads"]

        class Block(hk.Module):
            def __call__(self, x):
                length = x.shape[0]
                y = hk.LayerNorm(-1, True, True, eps=1e-5, name="attn_norm")(x)
                q, k, v = (t.reshape(length, heads, -1) for t in jnp.split(hk.Linear(3 * width, name="qkv")(y), 3, -1))
                logits = jnp.einsum("qhd,khd->hqk", q, k) / math.sqrt(width // heads)
                logits = jnp.where(jnp.tril(jnp.ones((length, length), bool)), logits, -jnp.inf)
                y = jnp.einsum("hqk,khd->qhd", jax.nn.softmax(logits, -1), v).reshape(length, width)
                x = x + hk.Linear(width, name="attn_out")(y)
                y = hk.LayerNorm(-1, True, True, eps=1e-5, name="mlp_norm")(x)
                y = jax.nn.gelu(hk.Linear(4 * width, name="mlp_up")(y), approximate=True)
                return x + hk.Linear(width, name="mlp_down")(y)

        class GPT2(hk.Module):
            def __call__(self, tokens):
                embed = hk.Embed(_GPT2["vocabulary"], width, name="token_embed")
                positions = hk.Embed(_GPT2["context"], width, name="position_embed")
                x = embed(tokens) + positions(jnp.arange(tokens.shape[0]))
                for index in range(_GPT2["depth"]):
                    x = Block(name=f"block_{index}")(x)
                x = hk.LayerNorm(-1, True, True, eps=1e-5, name="final_norm")(x)
                if tied:
                    return x @ embed.embeddings.T
                return hk.Linear(_GPT2["vocabulary"], with_bias=False, name="lm_head")(x)

        model = hk.without_apply_rng(hk.transform(lambda tokens: GPT2(name="gpt2")(tokens)))
        params = model.init(jax.random.PRNGKey(0), jnp.zeros((_TEXT_LENGTH,), jnp.int32))
        apply = jax.jit(jax.vmap(model.apply, in_axes=(None, 0)))
        return JaxSide(params, lambda params, tokens: apply(params, jnp.asarray(tokens, jnp.int32)))

    return build


_HAIKU_BLOCK = "gpt2/block_{i}/"
# Haiku <- transformers GPT-2: Conv1D weights are (in, out), as Haiku's w.
_GPT2_TO_HAIKU = [
    ("gpt2/token_embed/embeddings", "transformer.wte.weight", _same),
    ("gpt2/position_embed/embeddings", "transformer.wpe.weight", _same),
    *_norm(_HAIKU_BLOCK + "attn_norm", "transformer.h.{i}.ln_1", "scale", "offset"),
    *_dense(_HAIKU_BLOCK + "qkv", "transformer.h.{i}.attn.c_attn", "w", "b", _same),
    *_dense(_HAIKU_BLOCK + "attn_out", "transformer.h.{i}.attn.c_proj", "w", "b", _same),
    *_norm(_HAIKU_BLOCK + "mlp_norm", "transformer.h.{i}.ln_2", "scale", "offset"),
    *_dense(_HAIKU_BLOCK + "mlp_up", "transformer.h.{i}.mlp.c_fc", "w", "b", _same),
    *_dense(_HAIKU_BLOCK + "mlp_down", "transformer.h.{i}.mlp.c_proj", "w", "b", _same),
    *_norm("gpt2/final_norm", "transformer.ln_f", "scale", "offset"),
    ("gpt2/lm_head/w", "lm_head.weight", _transpose),
]


def _nanogpt(tied: bool) -> Callable[[], TorchSide]:
    """Karpathy's nanoGPT `model.py`: transformers' GPT-2 names with nn.Linear (out, in) weights, exact GELU
    (`nn.GELU()`); tied, `transformer.wte.weight = lm_head.weight` as the release does."""

    def build() -> TorchSide:
        import torch
        from torch import nn
        from torch.nn import functional as F

        width, heads = _GPT2["width"], _GPT2["heads"]

        class CausalSelfAttention(nn.Module):
            def __init__(self):
                super().__init__()
                self.c_attn = nn.Linear(width, 3 * width)
                self.c_proj = nn.Linear(width, width)

            def forward(self, x):
                batch, length, _ = x.shape
                q, k, v = (t.view(batch, length, heads, -1).transpose(1, 2) for t in self.c_attn(x).split(width, dim=2))
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                return self.c_proj(y.transpose(1, 2).reshape(batch, length, width))

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.c_fc = nn.Linear(width, 4 * width)
                self.gelu = nn.GELU()
                self.c_proj = nn.Linear(4 * width, width)

            def forward(self, x):
                return self.c_proj(self.gelu(self.c_fc(x)))

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln_1 = nn.LayerNorm(width)
                self.attn = CausalSelfAttention()
                self.ln_2 = nn.LayerNorm(width)
                self.mlp = MLP()

            def forward(self, x):
                x = x + self.attn(self.ln_1(x))
                return x + self.mlp(self.ln_2(x))

        class GPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.transformer = nn.ModuleDict(
                    dict(
                        wte=nn.Embedding(_GPT2["vocabulary"], width),
                        wpe=nn.Embedding(_GPT2["context"], width),
                        h=nn.ModuleList(Block() for _ in range(_GPT2["depth"])),
                        ln_f=nn.LayerNorm(width),
                    )
                )
                self.lm_head = nn.Linear(width, _GPT2["vocabulary"], bias=False)
                if tied:
                    self.transformer.wte.weight = self.lm_head.weight

            def forward(self, tokens):
                x = self.transformer.wte(tokens) + self.transformer.wpe(torch.arange(tokens.shape[1]))
                for block in self.transformer.h:
                    x = block(x)
                return self.lm_head(self.transformer.ln_f(x))

        return TorchSide(GPT(), _logits)

    return build


_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
# nanoGPT <- transformers GPT-2 (and back): the same names; Conv1D's (in, out) weights transposed.
_GPT2_TO_NANOGPT = [
    (f"transformer.h.{{i}}.{module}.weight", f"transformer.h.{{i}}.{module}.weight", _transpose) for module in _CONV1D
] + [
    (name, name, _same)
    for name in (
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "lm_head.weight",
        *(f"transformer.h.{{i}}.{module}.bias" for module in _CONV1D),
        *(f"transformer.h.{{i}}.{norm}.{leaf}" for norm in ("ln_1", "ln_2") for leaf in ("weight", "bias")),
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
    )
]


def _openai_gpt2() -> JaxSide:
    """OpenAI's GPT-2 release (`src/model.py`, TensorFlow 1) in jax.numpy: the checkpoint's variables
    `model/wte`, `model/wpe`, `model/h{i}/{ln_1,attn,ln_2,mlp}` and `model/ln_f` as they are stored, each
    conv1d's `w` (1, in, out), norms `g`/`b` eps 1e-5, tanh GELU; the head is `wte` itself."""
    import jax
    import jax.numpy as jnp

    width, heads = _GPT2["width"], _GPT2["heads"]
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 64))

    def normal(shape, stddev):
        return stddev * jax.random.normal(next(keys), shape)

    # The release's initializers: w normal(0.02), b zeros, g ones; wte normal(0.02), wpe normal(0.01).
    def conv1d_params(inputs, outputs):
        return {"w": normal((1, inputs, outputs), 0.02), "b": jnp.zeros(outputs)}

    def norm_params():
        return {"g": jnp.ones(width), "b": jnp.zeros(width)}

    def block_params():
        return {
            "ln_1": norm_params(),
            "attn": {"c_attn": conv1d_params(width, 3 * width), "c_proj": conv1d_params(width, width)},
            "ln_2": norm_params(),
            "mlp": {"c_fc": conv1d_params(width, 4 * width), "c_proj": conv1d_params(4 * width, width)},
        }

    params = {
        "model": {
            "wte": normal((_GPT2["vocabulary"], width), 0.02),
            "wpe": normal((_GPT2["context"], width), 0.01),
            **{f"h{layer}": block_params() for layer in range(_GPT2["depth"])},
            "ln_f": norm_params(),
        }
    }

    def gelu(x):
        return 0.5 * x * (1 + jnp.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * jnp.power(x, 3))))

    def norm(x, scope, epsilon=1e-5):
        u = jnp.mean(x, axis=-1, keepdims=True)
        s = jnp.mean(jnp.square(x - u), axis=-1, keepdims=True)
        return (x - u) * jax.lax.rsqrt(s + epsilon) * scope["g"] + scope["b"]

    def conv1d(x, scope):
        *start, nx = x.shape
        w = scope["w"]
        return (x.reshape(-1, nx) @ w.reshape(-1, w.shape[-1]) + scope["b"]).reshape(*start, w.shape[-1])

    def split_heads(x):
        *start, m = x.shape
        return jnp.transpose(x.reshape(*start, heads, m // heads), (0, 2, 1, 3))

    def merge_heads(x):
        x = jnp.transpose(x, (0, 2, 1, 3))
        *start, a, b = x.shape
        return x.reshape(*start, a * b)

    def softmax(x):
        x = x - jnp.max(x, axis=-1, keepdims=True)
        ex = jnp.exp(x)
        return ex / jnp.sum(ex, axis=-1, keepdims=True)

    def mask_attn_weights(w):
        nd, ns = w.shape[-2:]
        b = (jnp.arange(nd)[:, None] >= jnp.arange(ns) - ns + nd).astype(w.dtype).reshape(1, 1, nd, ns)
        return w * b - 1e10 * (1 - b)

    def attn(x, scope):
        q, k, v = map(split_heads, jnp.split(conv1d(x, scope["c_attn"]), 3, axis=2))
        w = softmax(mask_attn_weights(q @ jnp.swapaxes(k, -1, -2) * jax.lax.rsqrt(float(v.shape[-1]))))
        return conv1d(merge_heads(w @ v), scope["c_proj"])

    def mlp(x, scope):
        return conv1d(gelu(conv1d(x, scope["c_fc"])), scope["c_proj"])

    def block(x, scope):
        x = x + attn(norm(x, scope["ln_1"]), scope["attn"])
        return x + mlp(norm(x, scope["ln_2"]), scope["mlp"])

    def model(params, tokens):
        scope = params["model"]
        batch, sequence = tokens.shape
        h = scope["wte"][tokens] + scope["wpe"][jnp.arange(sequence)][None]
        for layer in range(_GPT2["depth"]):
            h = block(h, scope[f"h{layer}"])
        h = norm(h, scope["ln_f"])
        return (h.reshape(batch * sequence, width) @ scope["wte"].T).reshape(batch, sequence, -1)

    apply = jax.jit(model)
    return JaxSide(params, lambda params, tokens: apply(params, jnp.asarray(tokens, jnp.int32)))


def _as_conv1d(array):
    """transformers' Conv1D (in, out) weight as OpenAI stores it, a 1x1 convolution (1, in, out)."""
    return array[None]


def _from_conv1d(array):
    return array[0]


_OPENAI_BLOCK = "model/h{i}/"
# OpenAI's release <- transformers GPT-2 (tied): the same module names; each Conv1D weight gains the
# conv's leading axis. transformers' wte and lm_head are one tensor; OpenAI's head reads wte.
_GPT2_TO_OPENAI = [
    ("model/wte", "transformer.wte.weight", _same),
    ("model/wpe", "transformer.wpe.weight", _same),
    *(
        rule
        for module in _CONV1D
        for rule in _dense(_OPENAI_BLOCK + module.replace(".", "/"), f"transformer.h.{{i}}.{module}", "w", "b", _as_conv1d)
    ),
    *_norm(_OPENAI_BLOCK + "ln_1", "transformer.h.{i}.ln_1", "g", "b"),
    *_norm(_OPENAI_BLOCK + "ln_2", "transformer.h.{i}.ln_2", "g", "b"),
    *_norm("model/ln_f", "transformer.ln_f", "g", "b"),
]
# transformers GPT-2 (tied) <- OpenAI's release: the rules reversed, and wte feeds lm_head too.
_OPENAI_TO_GPT2 = _reversed(_GPT2_TO_OPENAI, {_as_conv1d: _from_conv1d}) + [("lm_head.weight", "model/wte", _same)]


# ---------------------------------------------------------------------------- Mamba in Flax

_MAMBA = dict(vocabulary=_VOCABULARY, width=64, state=8, depth=2, expand=2, kernel=4, rank=8)


def _transformers_mamba() -> TorchSide:
    import transformers

    config = transformers.MambaConfig(
        vocab_size=_MAMBA["vocabulary"],
        hidden_size=_MAMBA["width"],
        state_size=_MAMBA["state"],
        num_hidden_layers=_MAMBA["depth"],
        expand=_MAMBA["expand"],
        conv_kernel=_MAMBA["kernel"],
        time_step_rank=_MAMBA["rank"],
        layer_norm_epsilon=1e-5,
        use_bias=False,
        use_conv_bias=True,
        hidden_act="silu",
    )
    return TorchSide(transformers.MambaModel(config), _hf_hidden)


def _flax_mamba() -> JaxSide:
    """Mamba (selective state space) in Flax linen: the sequential scan of transformers' slow path,
    causal depthwise conv as a grouped `Conv` (kernel (K, 1, I)), RMS norms eps 1e-5."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    inner, state, rank = _MAMBA["expand"] * _MAMBA["width"], _MAMBA["state"], _MAMBA["rank"]

    class RMSNorm(linen.Module):
        @linen.compact
        def __call__(self, x):
            weight = self.param("weight", linen.initializers.ones, (x.shape[-1],))
            return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-5) * weight

    class Mixer(linen.Module):
        @linen.compact
        def __call__(self, x):
            x, gate = jnp.split(linen.Dense(2 * inner, use_bias=False, name="in_proj")(x), 2, axis=-1)
            kernel = _MAMBA["kernel"]
            x = linen.Conv(inner, (kernel,), feature_group_count=inner, padding=[(kernel - 1, 0)], name="conv1d")(x)
            x = jax.nn.silu(x)
            step, b, c = jnp.split(linen.Dense(rank + 2 * state, use_bias=False, name="x_proj")(x), [rank, rank + state], -1)
            step = jax.nn.softplus(linen.Dense(inner, name="dt_proj")(step))
            a = -jnp.exp(self.param("A_log", lambda _, shape: jnp.log(jnp.tile(jnp.arange(1.0, state + 1), (inner, 1))), (inner, state)))
            d = self.param("D", linen.initializers.ones, (inner,))

            def scan(carry, inputs):
                step_t, b_t, c_t, x_t = inputs
                carry = jnp.exp(step_t[:, None] * a) * carry + (step_t * x_t)[:, None] * b_t[None, :]
                return carry, carry @ c_t

            _, y = jax.lax.scan(scan, jnp.zeros((inner, state)), (step, b, c, x))
            y = (y + x * d) * jax.nn.silu(gate)
            return linen.Dense(_MAMBA["width"], use_bias=False, name="out_proj")(y)

    class Mamba(linen.Module):
        @linen.compact
        def __call__(self, tokens):
            x = linen.Embed(_MAMBA["vocabulary"], _MAMBA["width"], name="embedding")(tokens)
            for index in range(_MAMBA["depth"]):
                x = x + Mixer(name=f"layers_{index}_mixer")(RMSNorm(name=f"layers_{index}_norm")(x))
            return RMSNorm(name="norm_f")(x)

    model = Mamba()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((_TEXT_LENGTH,), jnp.int32))
    apply = jax.jit(jax.vmap(model.apply, in_axes=(None, 0)))
    return JaxSide(variables, lambda variables, tokens: apply(variables, jnp.asarray(tokens, jnp.int32)))


def _conv1d_to_flax(weight):
    return weight.transpose(2, 1, 0)


_MAMBA_TO_FLAX = [
    ("params/embedding/embedding", "embeddings.weight", _same),
    ("params/layers_{i}_norm/weight", "layers.{i}.norm.weight", _same),
    ("params/layers_{i}_mixer/A_log", "layers.{i}.mixer.A_log", _same),
    ("params/layers_{i}_mixer/D", "layers.{i}.mixer.D", _same),
    ("params/layers_{i}_mixer/conv1d/kernel", "layers.{i}.mixer.conv1d.weight", _conv1d_to_flax),
    ("params/layers_{i}_mixer/conv1d/bias", "layers.{i}.mixer.conv1d.bias", _same),
    ("params/layers_{i}_mixer/in_proj/kernel", "layers.{i}.mixer.in_proj.weight", _transpose),
    ("params/layers_{i}_mixer/x_proj/kernel", "layers.{i}.mixer.x_proj.weight", _transpose),
    *_dense("params/layers_{i}_mixer/dt_proj", "layers.{i}.mixer.dt_proj"),
    ("params/layers_{i}_mixer/out_proj/kernel", "layers.{i}.mixer.out_proj.weight", _transpose),
    ("params/norm_f/weight", "norm_f.weight", _same),
]


# ---------------------------------------------------------------------------- Whisper: transformers and OpenAI's release

_WHISPER = dict(vocabulary=_VOCABULARY, mels=16, frames=16, context=_CONTEXT, width=64, depth=2, heads=4, mlp=128)


def _whisper_inputs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        # Two mel frames per encoder position: the second conv has stride 2.
        "mel": rng.standard_normal((1, _WHISPER["mels"], 2 * _WHISPER["frames"])).astype(np.float32),
        "tokens": rng.integers(0, _WHISPER["vocabulary"], (1, _TEXT_LENGTH // 2), dtype=np.int64),
    }


def _transformers_whisper() -> TorchSide:
    import transformers

    config = transformers.WhisperConfig(
        vocab_size=_WHISPER["vocabulary"],
        num_mel_bins=_WHISPER["mels"],
        d_model=_WHISPER["width"],
        encoder_layers=_WHISPER["depth"],
        decoder_layers=_WHISPER["depth"],
        encoder_attention_heads=_WHISPER["heads"],
        decoder_attention_heads=_WHISPER["heads"],
        encoder_ffn_dim=_WHISPER["mlp"],
        decoder_ffn_dim=_WHISPER["mlp"],
        max_source_positions=_WHISPER["frames"],
        max_target_positions=_WHISPER["context"],
        activation_function="gelu",
        scale_embedding=False,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        suppress_tokens=None,
        begin_suppress_tokens=None,
    )

    def forward(module, inputs):
        return module(input_features=_torch_in(inputs["mel"]), decoder_input_ids=_torch_in(inputs["tokens"])).logits

    return TorchSide(transformers.WhisperForConditionalGeneration(config), forward)


def _openai_whisper() -> TorchSide:
    """openai/whisper `model.py`: `encoder.conv1/conv2/positional_embedding` (a sinusoid buffer)/`blocks`/
    `ln_post`, `decoder.token_embedding/positional_embedding/blocks/ln`; blocks hold `attn` (query, key
    without bias, value, out), `attn_ln`, `cross_attn`, `cross_attn_ln`, `mlp.0`, `mlp.2`, `mlp_ln`; the
    logits are the token embedding read backwards. LayerNorm eps 1e-5 and exact GELU, as transformers'."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    width, heads = _WHISPER["width"], _WHISPER["heads"]

    class MultiHeadAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Linear(width, width)
            self.key = nn.Linear(width, width, bias=False)
            self.value = nn.Linear(width, width)
            self.out = nn.Linear(width, width)

        def forward(self, x, source=None, causal=False):
            source = x if source is None else source
            batch = x.shape[0]
            q, k, v = (
                t.view(batch, t.shape[1], heads, -1).transpose(1, 2)
                for t in (self.query(x), self.key(source), self.value(source))
            )
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return self.out(y.transpose(1, 2).reshape(batch, x.shape[1], width))

    class ResidualAttentionBlock(nn.Module):
        def __init__(self, cross_attention):
            super().__init__()
            self.attn = MultiHeadAttention()
            self.attn_ln = nn.LayerNorm(width)
            self.cross_attn = MultiHeadAttention() if cross_attention else None
            self.cross_attn_ln = nn.LayerNorm(width) if cross_attention else None
            self.mlp = nn.Sequential(nn.Linear(width, _WHISPER["mlp"]), nn.GELU(), nn.Linear(_WHISPER["mlp"], width))
            self.mlp_ln = nn.LayerNorm(width)

        def forward(self, x, audio=None):
            x = x + self.attn(self.attn_ln(x), causal=self.cross_attn is not None)
            if self.cross_attn is not None:
                x = x + self.cross_attn(self.cross_attn_ln(x), audio)
            return x + self.mlp(self.mlp_ln(x))

    def sinusoids(length, channels):
        increment = math.log(10000) / (channels // 2 - 1)
        scales = torch.exp(-increment * torch.arange(channels // 2))
        angles = torch.arange(length)[:, None] * scales[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)

    class AudioEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(_WHISPER["mels"], width, kernel_size=3, padding=1)
            self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
            self.register_buffer("positional_embedding", sinusoids(_WHISPER["frames"], width))
            self.blocks = nn.ModuleList(ResidualAttentionBlock(False) for _ in range(_WHISPER["depth"]))
            self.ln_post = nn.LayerNorm(width)

        def forward(self, mel):
            x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).permute(0, 2, 1)
            x = x + self.positional_embedding
            for block in self.blocks:
                x = block(x)
            return self.ln_post(x)

    class TextDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = nn.Embedding(_WHISPER["vocabulary"], width)
            self.positional_embedding = nn.Parameter(torch.empty(_WHISPER["context"], width).normal_(0, 0.02))
            self.blocks = nn.ModuleList(ResidualAttentionBlock(True) for _ in range(_WHISPER["depth"]))
            self.ln = nn.LayerNorm(width)

        def forward(self, tokens, audio):
            x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[-1]]
            for block in self.blocks:
                x = block(x, audio)
            return self.ln(x) @ self.token_embedding.weight.T

    class Whisper(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AudioEncoder()
            self.decoder = TextDecoder()

        def forward(self, mel, tokens):
            return self.decoder(tokens, self.encoder(mel))

    def forward(module, inputs):
        return module(_torch_in(inputs["mel"]), _torch_in(inputs["tokens"]))

    return TorchSide(Whisper(), forward)


def _whisper_attention(mine: str, theirs: str) -> list:
    return _renamed([(f"{mine}.{a}", f"{theirs}.{b}") for a, b in (("query", "q_proj"), ("value", "v_proj"), ("out", "out_proj"))]) + [
        (f"{mine}.key.weight", f"{theirs}.k_proj.weight", _same)
    ]


# OpenAI's Whisper <- transformers' Whisper.
_WHISPER_TO_OPENAI = [
    *_renamed(
        [
            ("encoder.conv1", "model.encoder.conv1"),
            ("encoder.conv2", "model.encoder.conv2"),
            ("encoder.ln_post", "model.encoder.layer_norm"),
            ("decoder.ln", "model.decoder.layer_norm"),
            *(
                (f"{side}.blocks.{{i}}.{mine}", f"model.{side}.layers.{{i}}.{theirs}")
                for side in ("encoder", "decoder")
                for mine, theirs in (
                    ("attn_ln", "self_attn_layer_norm"),
                    ("mlp.0", "fc1"),
                    ("mlp.2", "fc2"),
                    ("mlp_ln", "final_layer_norm"),
                )
            ),
            ("decoder.blocks.{i}.cross_attn_ln", "model.decoder.layers.{i}.encoder_attn_layer_norm"),
        ]
    ),
    ("encoder.positional_embedding", "model.encoder.embed_positions.weight", _same),
    ("decoder.token_embedding.weight", "model.decoder.embed_tokens.weight", _same),
    ("decoder.positional_embedding", "model.decoder.embed_positions.weight", _same),
    *_whisper_attention("encoder.blocks.{i}.attn", "model.encoder.layers.{i}.self_attn"),
    *_whisper_attention("decoder.blocks.{i}.attn", "model.decoder.layers.{i}.self_attn"),
    *_whisper_attention("decoder.blocks.{i}.cross_attn", "model.decoder.layers.{i}.encoder_attn"),
]
# transformers' Whisper <- OpenAI's: the tied output projection is the token embedding again.
_OPENAI_TO_WHISPER = _reversed(_WHISPER_TO_OPENAI, {}) + [("proj_out.weight", "decoder.token_embedding.weight", _same)]


# ---------------------------------------------------------------------------- Meta's Llama

_LLAMA = dict(vocabulary=_VOCABULARY, width=64, depth=2, heads=4, kv_heads=2, hidden=112, eps=1e-5, theta=10000.0)


def _meta_llama() -> TorchSide:
    """meta-llama/llama `model.py` names: `tok_embeddings`, `layers.i.attention.wq/wk/wv/wo`,
    `layers.i.feed_forward.w1/w2/w3`, `attention_norm`, `ffn_norm`, `norm`, `output`. The release
    rotates interleaved pairs; transformers' conversion permutes wq and wk rows within each head to
    rotate halves instead. Here both sides rotate halves, so that the weights correspond one to one."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    width, heads, kv_heads = _LLAMA["width"], _LLAMA["heads"], _LLAMA["kv_heads"]
    head_dim = width // heads

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(width))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _LLAMA["eps"]) * self.weight

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
            k, v = (t.repeat_interleave(heads // kv_heads, dim=1) for t in (k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.wo(y.transpose(1, 2).reshape(batch, length, width))

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Linear(width, _LLAMA["hidden"], bias=False)
            self.w2 = nn.Linear(_LLAMA["hidden"], width, bias=False)
            self.w3 = nn.Linear(width, _LLAMA["hidden"], bias=False)

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

    class TransformerBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.feed_forward = FeedForward()
            self.attention_norm = RMSNorm()
            self.ffn_norm = RMSNorm()

        def forward(self, x, cos, sin):
            x = x + self.attention(self.attention_norm(x), cos, sin)
            return x + self.feed_forward(self.ffn_norm(x))

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embeddings = nn.Embedding(_LLAMA["vocabulary"], width)
            self.layers = nn.ModuleList(TransformerBlock() for _ in range(_LLAMA["depth"]))
            self.norm = RMSNorm()
            self.output = nn.Linear(width, _LLAMA["vocabulary"], bias=False)
            frequencies = 1.0 / _LLAMA["theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim)
            self.register_buffer("frequencies", frequencies, persistent=False)

        def forward(self, tokens):
            angles = torch.arange(tokens.shape[1], dtype=torch.float)[:, None] * self.frequencies
            angles = torch.cat((angles, angles), dim=-1)
            x = self.tok_embeddings(tokens)
            for layer in self.layers:
                x = layer(x, angles.cos(), angles.sin())
            return self.output(self.norm(x))

    return TorchSide(Transformer(), _logits)


def _transformers_llama() -> TorchSide:
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=_LLAMA["vocabulary"],
        hidden_size=_LLAMA["width"],
        intermediate_size=_LLAMA["hidden"],
        num_hidden_layers=_LLAMA["depth"],
        num_attention_heads=_LLAMA["heads"],
        num_key_value_heads=_LLAMA["kv_heads"],
        max_position_embeddings=_CONTEXT,
        rms_norm_eps=_LLAMA["eps"],
        rope_theta=_LLAMA["theta"],
        tie_word_embeddings=False,
        # A sharp causal attention tells a swapped query and key apart.
        initializer_range=0.1,
    )
    return TorchSide(transformers.LlamaForCausalLM(config), _hf_logits)


# transformers' Llama <- Meta's release.
_META_TO_LLAMA = _renamed(
    [
        ("model.embed_tokens", "tok_embeddings"),
        *(
            (f"model.layers.{{i}}.{mine}", f"layers.{{i}}.{theirs}")
            for mine, theirs in (
                ("self_attn.q_proj", "attention.wq"),
                ("self_attn.k_proj", "attention.wk"),
                ("self_attn.v_proj", "attention.wv"),
                ("self_attn.o_proj", "attention.wo"),
                ("mlp.gate_proj", "feed_forward.w1"),
                ("mlp.down_proj", "feed_forward.w2"),
                ("mlp.up_proj", "feed_forward.w3"),
                ("input_layernorm", "attention_norm"),
                ("post_attention_layernorm", "ffn_norm"),
            )
        ),
        ("model.norm", "norm"),
        ("lm_head", "output"),
    ],
    leaves=("weight",),
)


# ---------------------------------------------------------------------------- Mistral's MoE (Mixtral)

# Top-1 routing over three experts: another MoE than the zoo's top-2 of four, from the same release code.
_MOE = dict(width=64, depth=2, heads=4, kv_heads=2, hidden=96, experts=3, experts_per_token=1, eps=1e-5)


def _transformers_mixtral() -> TorchSide:
    import transformers

    config = transformers.MixtralConfig(
        vocab_size=_VOCABULARY,
        hidden_size=_MOE["width"],
        num_hidden_layers=_MOE["depth"],
        num_attention_heads=_MOE["heads"],
        num_key_value_heads=_MOE["kv_heads"],
        intermediate_size=_MOE["hidden"],
        num_local_experts=_MOE["experts"],
        num_experts_per_tok=_MOE["experts_per_token"],
        rms_norm_eps=_MOE["eps"],
        rope_theta=1e6,
        max_position_embeddings=_CONTEXT,
        tie_word_embeddings=False,
    )
    return TorchSide(transformers.MixtralForCausalLM(config), _hf_logits)


def _expert_piece(expert: int, rows: slice) -> Callable:
    def piece(stacked):
        return stacked[expert, rows]

    return piece


def _stack_experts(*weights):
    return np.stack(weights)


def _stack_gate_up(*weights):
    experts = len(weights) // 2
    return np.stack([np.concatenate([weights[e], weights[experts + e]]) for e in range(experts)])


_MOE_EXPERT = "layers.{i}.feed_forward.experts"
_MOE_ATTENTION_AND_NORMS = [
    ("model.embed_tokens", "tok_embeddings"),
    ("model.layers.{i}.self_attn.q_proj", "layers.{i}.attention.wq"),
    ("model.layers.{i}.self_attn.k_proj", "layers.{i}.attention.wk"),
    ("model.layers.{i}.self_attn.v_proj", "layers.{i}.attention.wv"),
    ("model.layers.{i}.self_attn.o_proj", "layers.{i}.attention.wo"),
    ("model.layers.{i}.mlp.gate", "layers.{i}.feed_forward.gate"),
    ("model.layers.{i}.input_layernorm", "layers.{i}.attention_norm"),
    ("model.layers.{i}.post_attention_layernorm", "layers.{i}.ffn_norm"),
    ("model.norm", "norm"),
    ("lm_head", "output"),
]
# transformers' Mixtral <- the release: w1 and w3 of each expert concatenate into gate_up_proj (E, 2I, H),
# the experts' w2 stack into down_proj (E, H, I).
_MOE_RENAMES = _renamed(_MOE_ATTENTION_AND_NORMS, leaves=("weight",))
_MOE_TO_TRANSFORMERS = _MOE_RENAMES + [
    (
        "model.layers.{i}.mlp.experts.gate_up_proj",
        tuple(f"{_MOE_EXPERT}.{e}.{w}.weight" for w in ("w1", "w3") for e in range(_MOE["experts"])),
        _stack_gate_up,
    ),
    (
        "model.layers.{i}.mlp.experts.down_proj",
        tuple(f"{_MOE_EXPERT}.{e}.w2.weight" for e in range(_MOE["experts"])),
        _stack_experts,
    ),
]
# The release <- transformers: each expert's pieces cut out of the stacked tensors.
_TRANSFORMERS_TO_MOE = _reversed(_MOE_RENAMES, {}) + [
    rule
    for e in range(_MOE["experts"])
    for rule in (
        (f"{_MOE_EXPERT}.{e}.w1.weight", "model.layers.{i}.mlp.experts.gate_up_proj", _expert_piece(e, slice(0, _MOE["hidden"]))),
        (f"{_MOE_EXPERT}.{e}.w3.weight", "model.layers.{i}.mlp.experts.gate_up_proj", _expert_piece(e, slice(_MOE["hidden"], None))),
        (f"{_MOE_EXPERT}.{e}.w2.weight", "model.layers.{i}.mlp.experts.down_proj", _expert_piece(e, slice(None))),
    )
]


# ---------------------------------------------------------------------------- Equinox and Flax NNX targets


def _dotted(path) -> str:
    """A JAX key path as a state-dict name: `.layers[0].attention.query.weight` -> `layers.0.attention.query.weight`."""
    import jax

    parts = []
    for entry in path:
        if isinstance(entry, jax.tree_util.GetAttrKey):
            parts.append(entry.name)
        elif isinstance(entry, jax.tree_util.SequenceKey):
            parts.append(str(entry.idx))
        else:
            parts.append(str(entry.key))
    return ".".join(parts)


class EquinoxSide:
    """An Equinox module; its tree is `{attribute path: array}` over the module's arrays, like a state dict."""

    def __init__(self, model, forward: Callable):
        import equinox as eqx
        import jax

        params, self.static = eqx.partition(model, eqx.is_array)
        flat, self.treedef = jax.tree_util.tree_flatten_with_path(params)
        self.names = [_dotted(path) for path, _ in flat]
        self.values = [leaf for _, leaf in flat]
        self.forward = forward

    def weights(self):
        return dict(zip(self.names, self.values))

    def load(self, tree) -> None:
        import jax.numpy as jnp

        expected = {name: tuple(value.shape) for name, value in zip(self.names, self.values)}
        got = {name: tuple(np.shape(value)) for name, value in tree.items()}
        if expected != got:
            raise ValueError(
                f"tree does not fit the model: missing {sorted(set(expected) - set(got))[:5]}, "
                f"unexpected {sorted(set(got) - set(expected))[:5]}, "
                f"shapes differ at {sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])[:5]}"
            )
        self.values = [jnp.asarray(tree[name], dtype=old.dtype) for name, old in zip(self.names, self.values)]

    def randomize(self, seed: int) -> None:
        import jax.numpy as jnp

        rng = np.random.default_rng(seed)
        self.values = [
            jnp.asarray(random_values(name, np.asarray(value), rng), dtype=value.dtype)
            for name, value in zip(self.names, self.values)
        ]

    def run(self, inputs) -> np.ndarray:
        import equinox as eqx
        import jax

        model = eqx.combine(jax.tree_util.tree_unflatten(self.treedef, self.values), self.static)
        return np.asarray(self.forward(model, inputs), dtype=np.float32)


def _equinox_llama() -> EquinoxSide:
    """Llama in Equinox: `eqx.nn.Linear` weights (out, in) as torch's, per-sequence functions vmapped over
    the batch; halves rotation, rms eps 1e-5, grouped-query attention, untied `lm_head`."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    width, heads, kv_heads, hidden = _LLAMA["width"], _LLAMA["heads"], _LLAMA["kv_heads"], _LLAMA["hidden"]
    head_dim = width // heads
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 64))

    def linear(inputs, outputs):
        return eqx.nn.Linear(inputs, outputs, use_bias=False, key=next(keys))

    class RMSNorm(eqx.Module):
        weight: jax.Array

        def __call__(self, x):
            return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + _LLAMA["eps"]) * self.weight

    def rotate(x, cos, sin):
        first, second = jnp.split(x, 2, axis=-1)
        return x * cos + jnp.concatenate([-second, first], axis=-1) * sin

    class Attention(eqx.Module):
        query: eqx.nn.Linear
        key: eqx.nn.Linear
        value: eqx.nn.Linear
        output: eqx.nn.Linear

        def __call__(self, x, cos, sin):
            length = x.shape[0]
            q = jax.vmap(self.query)(x).reshape(length, heads, head_dim)
            k = jax.vmap(self.key)(x).reshape(length, kv_heads, head_dim)
            v = jax.vmap(self.value)(x).reshape(length, kv_heads, head_dim)
            q, k = rotate(q, cos[:, None], sin[:, None]), rotate(k, cos[:, None], sin[:, None])
            k, v = (jnp.repeat(t, heads // kv_heads, axis=1) for t in (k, v))
            logits = jnp.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim)
            logits = jnp.where(jnp.tril(jnp.ones((length, length), bool)), logits, -jnp.inf)
            y = jnp.einsum("hqk,khd->qhd", jax.nn.softmax(logits, -1), v).reshape(length, width)
            return jax.vmap(self.output)(y)

    class MLP(eqx.Module):
        gate: eqx.nn.Linear
        up: eqx.nn.Linear
        down: eqx.nn.Linear

        def __call__(self, x):
            return jax.vmap(self.down)(jax.nn.silu(jax.vmap(self.gate)(x)) * jax.vmap(self.up)(x))

    class Layer(eqx.Module):
        attention_norm: RMSNorm
        attention: Attention
        mlp_norm: RMSNorm
        mlp: MLP

        def __call__(self, x, cos, sin):
            x = x + self.attention(self.attention_norm(x), cos, sin)
            return x + self.mlp(self.mlp_norm(x))

    class Llama(eqx.Module):
        embedding: eqx.nn.Embedding
        layers: list
        norm: RMSNorm
        lm_head: eqx.nn.Linear

        def __call__(self, tokens):
            frequencies = 1.0 / _LLAMA["theta"] ** (jnp.arange(0, head_dim, 2) / head_dim)
            angles = jnp.arange(tokens.shape[0])[:, None] * frequencies
            angles = jnp.concatenate([angles, angles], axis=-1)
            x = jax.vmap(self.embedding)(tokens)
            for layer in self.layers:
                x = layer(x, jnp.cos(angles), jnp.sin(angles))
            return jax.vmap(self.lm_head)(self.norm(x))

    def ones():
        # One array per norm: a shared array would be one tensor under several names (tied weights).
        return jnp.ones((width,))

    model = Llama(
        embedding=eqx.nn.Embedding(_LLAMA["vocabulary"], width, key=next(keys)),
        layers=[
            Layer(
                attention_norm=RMSNorm(ones()),
                attention=Attention(
                    linear(width, width), linear(width, kv_heads * head_dim), linear(width, kv_heads * head_dim), linear(width, width)
                ),
                mlp_norm=RMSNorm(ones()),
                mlp=MLP(linear(width, hidden), linear(width, hidden), linear(hidden, width)),
            )
            for _ in range(_LLAMA["depth"])
        ],
        norm=RMSNorm(ones()),
        lm_head=linear(width, _LLAMA["vocabulary"]),
    )
    apply = eqx.filter_jit(lambda model, tokens: jax.vmap(model)(tokens))
    return EquinoxSide(model, lambda model, tokens: apply(model, jnp.asarray(tokens, jnp.int32)))


# Equinox <- transformers' Llama: both keep (out, in) weights.
_LLAMA_TO_EQUINOX = _renamed(
    [
        ("embedding", "model.embed_tokens"),
        *(
            (f"layers.{{i}}.{mine}", f"model.layers.{{i}}.{theirs}")
            for mine, theirs in (
                ("attention_norm", "input_layernorm"),
                ("attention.query", "self_attn.q_proj"),
                ("attention.key", "self_attn.k_proj"),
                ("attention.value", "self_attn.v_proj"),
                ("attention.output", "self_attn.o_proj"),
                ("mlp_norm", "post_attention_layernorm"),
                ("mlp.gate", "mlp.gate_proj"),
                ("mlp.up", "mlp.up_proj"),
                ("mlp.down", "mlp.down_proj"),
            )
        ),
        ("norm", "model.norm"),
        ("lm_head", "lm_head"),
    ],
    leaves=("weight",),
)


def _equinox_gpt2() -> EquinoxSide:
    """GPT-2 in Equinox with its built-in `eqx.nn.MultiheadAttention` (`query_proj`, `key_proj`,
    `value_proj`, `output_proj`, (out, in) weights with biases), `eqx.nn.LayerNorm` eps 1e-5, tanh GELU;
    the head reads `token_embedding.weight`, held once (tied)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    width = _GPT2["width"]
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 64))

    class Block(eqx.Module):
        attention_norm: eqx.nn.LayerNorm
        attention: eqx.nn.MultiheadAttention
        mlp_norm: eqx.nn.LayerNorm
        mlp_up: eqx.nn.Linear
        mlp_down: eqx.nn.Linear

        def __call__(self, x):
            y = jax.vmap(self.attention_norm)(x)
            causal = jnp.tril(jnp.ones((x.shape[0], x.shape[0]), bool))
            x = x + self.attention(y, y, y, mask=causal)
            y = jax.nn.gelu(jax.vmap(self.mlp_up)(jax.vmap(self.mlp_norm)(x)), approximate=True)
            return x + jax.vmap(self.mlp_down)(y)

    class GPT2(eqx.Module):
        token_embedding: eqx.nn.Embedding
        position_embedding: eqx.nn.Embedding
        blocks: list
        final_norm: eqx.nn.LayerNorm

        def __call__(self, tokens):
            x = jax.vmap(self.token_embedding)(tokens) + self.position_embedding.weight[: tokens.shape[0]]
            for block in self.blocks:
                x = block(x)
            return jax.vmap(self.final_norm)(x) @ self.token_embedding.weight.T

    def block():
        return Block(
            attention_norm=eqx.nn.LayerNorm(width, eps=1e-5),
            attention=eqx.nn.MultiheadAttention(
                _GPT2["heads"], width, use_query_bias=True, use_key_bias=True, use_value_bias=True,
                use_output_bias=True, key=next(keys),
            ),
            mlp_norm=eqx.nn.LayerNorm(width, eps=1e-5),
            mlp_up=eqx.nn.Linear(width, 4 * width, key=next(keys)),
            mlp_down=eqx.nn.Linear(4 * width, width, key=next(keys)),
        )

    model = GPT2(
        token_embedding=eqx.nn.Embedding(_GPT2["vocabulary"], width, key=next(keys)),
        position_embedding=eqx.nn.Embedding(_GPT2["context"], width, key=next(keys)),
        blocks=[block() for _ in range(_GPT2["depth"])],
        final_norm=eqx.nn.LayerNorm(width, eps=1e-5),
    )
    apply = eqx.filter_jit(lambda model, tokens: jax.vmap(model)(tokens))
    return EquinoxSide(model, lambda model, tokens: apply(model, jnp.asarray(tokens, jnp.int32)))


def _c_attn_part(index: int) -> Callable:
    """One of q, k, v out of GPT-2's fused Conv1D c_attn ((in, 3 out) weight, (3 out,) bias), as (out, in)."""
    width = _GPT2["width"]

    def part(fused):
        piece = fused[..., index * width : (index + 1) * width]
        return piece.T if piece.ndim == 2 else piece

    return part


# Equinox <- transformers' GPT-2: Conv1D's (in, out) weights transposed, c_attn split into three.
_GPT2_TO_EQUINOX = [
    ("token_embedding.weight", "transformer.wte.weight", _same),
    ("position_embedding.weight", "transformer.wpe.weight", _same),
    *_renamed(
        [
            ("blocks.{i}.attention_norm", "transformer.h.{i}.ln_1"),
            ("blocks.{i}.mlp_norm", "transformer.h.{i}.ln_2"),
            ("final_norm", "transformer.ln_f"),
        ]
    ),
    *(
        (f"blocks.{{i}}.attention.{name}_proj.{leaf}", f"transformer.h.{{i}}.attn.c_attn.{leaf}", _c_attn_part(index))
        for index, name in enumerate(("query", "key", "value"))
        for leaf in ("weight", "bias")
    ),
    *(
        (f"blocks.{{i}}.{mine}.weight", f"transformer.h.{{i}}.{theirs}.weight", _transpose)
        for mine, theirs in (("attention.output_proj", "attn.c_proj"), ("mlp_up", "mlp.c_fc"), ("mlp_down", "mlp.c_proj"))
    ),
    *_renamed(
        [("blocks.{i}.attention.output_proj", "transformer.h.{i}.attn.c_proj"), ("blocks.{i}.mlp_up", "transformer.h.{i}.mlp.c_fc"),
         ("blocks.{i}.mlp_down", "transformer.h.{i}.mlp.c_proj")],
        leaves=("bias",),
    ),
]


_BERT = dict(vocabulary=_VOCABULARY, context=_CONTEXT, segments=2, width=64, depth=2, heads=4, intermediate=128, eps=1e-12)


def _transformers_bert() -> TorchSide:
    import transformers

    config = transformers.BertConfig(
        vocab_size=_BERT["vocabulary"],
        hidden_size=_BERT["width"],
        num_hidden_layers=_BERT["depth"],
        num_attention_heads=_BERT["heads"],
        intermediate_size=_BERT["intermediate"],
        max_position_embeddings=_BERT["context"],
        type_vocab_size=_BERT["segments"],
        layer_norm_eps=_BERT["eps"],
        hidden_act="gelu",
        # The random weights keep their init's scale; at std 0.02 bidirectional attention is nearly
        # uniform and a swapped query and key move the output by less than the tolerance.
        initializer_range=0.1,
    )
    return TorchSide(transformers.BertModel(config, add_pooling_layer=False), _hf_bert)


def _nnx_bert() -> JaxSide:
    """BERT in Flax NNX: `nnx.Linear` (in, out) kernels, post-norm layers, exact GELU, LayerNorm eps 1e-12;
    the tree is the model's pure dict of parameters (list indices are int keys)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    width, heads, eps = _BERT["width"], _BERT["heads"], _BERT["eps"]
    rngs = nnx.Rngs(0)

    class SelfAttention(nnx.Module):
        def __init__(self):
            self.query = nnx.Linear(width, width, rngs=rngs)
            self.key = nnx.Linear(width, width, rngs=rngs)
            self.value = nnx.Linear(width, width, rngs=rngs)
            self.output = nnx.Linear(width, width, rngs=rngs)

        def __call__(self, x):
            batch, length, _ = x.shape
            q, k, v = (f(x).reshape(batch, length, heads, -1) for f in (self.query, self.key, self.value))
            attention = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(width // heads), -1)
            return self.output(jnp.einsum("bhqk,bkhd->bqhd", attention, v).reshape(batch, length, width))

    class Layer(nnx.Module):
        def __init__(self):
            self.attention = SelfAttention()
            self.attention_norm = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
            self.intermediate = nnx.Linear(width, _BERT["intermediate"], rngs=rngs)
            self.output = nnx.Linear(_BERT["intermediate"], width, rngs=rngs)
            self.output_norm = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)

        def __call__(self, x):
            x = self.attention_norm(x + self.attention(x))
            return self.output_norm(x + self.output(jax.nn.gelu(self.intermediate(x), approximate=False)))

    class Bert(nnx.Module):
        def __init__(self):
            self.token_embedding = nnx.Embed(_BERT["vocabulary"], width, rngs=rngs)
            self.position_embedding = nnx.Embed(_BERT["context"], width, rngs=rngs)
            self.segment_embedding = nnx.Embed(_BERT["segments"], width, rngs=rngs)
            self.embedding_norm = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
            self.layers = nnx.List([Layer() for _ in range(_BERT["depth"])])

        def __call__(self, tokens, segments):
            positions = jnp.arange(tokens.shape[1])[None]
            x = self.token_embedding(tokens) + self.position_embedding(positions) + self.segment_embedding(segments)
            x = self.embedding_norm(x)
            for layer in self.layers:
                x = layer(x)
            return x

    graph, state = nnx.split(Bert(), nnx.Param)

    @jax.jit
    def apply(params, tokens, segments):
        filled = jax.tree.map(lambda leaf: leaf, state)
        nnx.replace_by_pure_dict(filled, params)
        return nnx.merge(graph, filled)(tokens, segments)

    def run(params, tokens):
        tokens = np.asarray(tokens, dtype=np.int32)
        return apply(params, tokens, _segments(tokens))

    return JaxSide(nnx.to_pure_dict(state), run)


# Flax NNX <- transformers' BERT.
_BERT_TO_NNX = [
    ("token_embedding/embedding", "embeddings.word_embeddings.weight", _same),
    ("position_embedding/embedding", "embeddings.position_embeddings.weight", _same),
    ("segment_embedding/embedding", "embeddings.token_type_embeddings.weight", _same),
    *_norm("embedding_norm", "embeddings.LayerNorm"),
    *(
        rule
        for mine, theirs in (
            ("attention/query", "attention.self.query"),
            ("attention/key", "attention.self.key"),
            ("attention/value", "attention.self.value"),
            ("attention/output", "attention.output.dense"),
            ("intermediate", "intermediate.dense"),
            ("output", "output.dense"),
        )
        for rule in _dense(f"layers/{{i}}/{mine}", f"encoder.layer.{{i}}.{theirs}")
    ),
    *_norm("layers/{i}/attention_norm", "encoder.layer.{i}.attention.output.LayerNorm"),
    *_norm("layers/{i}/output_norm", "encoder.layer.{i}.output.LayerNorm"),
]


# ---------------------------------------------------------------------------- ResNet in Flax linen, BatchNorm statistics

_RESNET = dict(stages=(2, 2, 2, 2), width=64, classes=10, image=64)


def _flax_resnet() -> JaxSide:
    """ResNet-18 as the Flax examples write it (examples/imagenet/models.py): `conv_init`, `bn_init`,
    `ResNetBlock_k` numbered across stages with `Conv_0`, `BatchNorm_0`, `Conv_1`, `BatchNorm_1` and, where
    the shape changes, `conv_proj` and `norm_proj`, then `Dense_0`; running statistics in `batch_stats`
    (`mean`, `var`). Padded as torchvision pads (one row each side), where the example pads "SAME", which
    on an even size pads a stride-2 window after only."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    conv = functools.partial(linen.Conv, use_bias=False)
    norm = functools.partial(linen.BatchNorm, use_running_average=True, momentum=0.9, epsilon=1e-5)
    one = ((1, 1), (1, 1))

    class ResNetBlock(linen.Module):
        filters: int
        strides: tuple = (1, 1)

        @linen.compact
        def __call__(self, x):
            y = linen.relu(norm()(conv(self.filters, (3, 3), self.strides, padding=one)(x)))
            y = norm()(conv(self.filters, (3, 3), padding=one)(y))
            if x.shape != y.shape:
                x = norm(name="norm_proj")(conv(self.filters, (1, 1), self.strides, padding="VALID", name="conv_proj")(x))
            return linen.relu(x + y)

    class ResNet(linen.Module):
        @linen.compact
        def __call__(self, images):
            x = jnp.transpose(images, (0, 2, 3, 1))
            x = conv(_RESNET["width"], (7, 7), (2, 2), padding=[(3, 3), (3, 3)], name="conv_init")(x)
            x = linen.relu(norm(name="bn_init")(x))
            x = linen.max_pool(x, (3, 3), strides=(2, 2), padding=one)
            for stage, blocks in enumerate(_RESNET["stages"]):
                for block in range(blocks):
                    strides = (2, 2) if stage > 0 and block == 0 else (1, 1)
                    x = ResNetBlock(_RESNET["width"] * 2**stage, strides)(x)
            return linen.Dense(_RESNET["classes"])(x.mean(axis=(1, 2)))

    model = ResNet()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, _RESNET["image"], _RESNET["image"])))
    return JaxSide(variables, jax.jit(model.apply))


def _torchvision_resnet18() -> TorchSide:
    import torchvision

    return TorchSide(torchvision.models.resnet18(weights=None, num_classes=_RESNET["classes"]), _logits)


def _batch_norm(mine: str, theirs: str) -> list:
    """A torch BatchNorm2d's affine weights and running statistics in Flax's params and batch_stats."""
    return [
        (f"params/{mine}/scale", f"{theirs}.weight", _same),
        (f"params/{mine}/bias", f"{theirs}.bias", _same),
        (f"batch_stats/{mine}/mean", f"{theirs}.running_mean", _same),
        (f"batch_stats/{mine}/var", f"{theirs}.running_var", _same),
    ]


def _resnet_block_rules(block: int, stage: int, index: int) -> list:
    mine, theirs = f"ResNetBlock_{block}", f"layer{stage + 1}.{index}"
    return [
        (f"params/{mine}/Conv_0/kernel", f"{theirs}.conv1.weight", _conv_to_flax),
        (f"params/{mine}/Conv_1/kernel", f"{theirs}.conv2.weight", _conv_to_flax),
        (f"params/{mine}/conv_proj/kernel", f"{theirs}.downsample.0.weight", _conv_to_flax),
        *_batch_norm(f"{mine}/BatchNorm_0", f"{theirs}.bn1"),
        *_batch_norm(f"{mine}/BatchNorm_1", f"{theirs}.bn2"),
        *_batch_norm(f"{mine}/norm_proj", f"{theirs}.downsample.1"),
    ]


# Flax's ResNet <- torchvision's: the blocks, numbered across stages in Flax, are layer{s}.{j} in torchvision.
_TORCHVISION_RESNET_TO_FLAX = [
    ("params/conv_init/kernel", "conv1.weight", _conv_to_flax),
    *_batch_norm("bn_init", "bn1"),
    *(
        rule
        for block, (stage, index) in enumerate((s, j) for s, blocks in enumerate(_RESNET["stages"]) for j in range(blocks))
        for rule in _resnet_block_rules(block, stage, index)
    ),
    *_dense("params/Dense_0", "fc"),
]


# ---------------------------------------------------------------------------- T5.1.1 in Flax linen, as T5X writes it

_T5 = dict(vocabulary=_VOCABULARY, width=64, heads=4, head_dim=16, mlp=128, depth=2, buckets=32, max_distance=128)


def _transformers_t5() -> TorchSide:
    """transformers' T5 v1.1: gated GELU (tanh) feed-forward, untied output head, RMS norms eps 1e-6."""
    import transformers

    config = transformers.T5Config(
        vocab_size=_T5["vocabulary"],
        d_model=_T5["width"],
        d_kv=_T5["head_dim"],
        d_ff=_T5["mlp"],
        num_layers=_T5["depth"],
        num_decoder_layers=_T5["depth"],
        num_heads=_T5["heads"],
        relative_attention_num_buckets=_T5["buckets"],
        relative_attention_max_distance=_T5["max_distance"],
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        decoder_start_token_id=0,
    )

    def forward(module, tokens):
        return module(input_ids=_torch_in(tokens["encoder"]), decoder_input_ids=_torch_in(tokens["decoder"])).logits

    return TorchSide(transformers.T5ForConditionalGeneration(config), forward)


def _relative_position_bucket(relative_position, bidirectional: bool, buckets: int, max_distance: int):
    """T5X's bucketing of key minus query positions: exact up to half the buckets, logarithmic beyond."""
    bucket = 0
    n = -relative_position
    if bidirectional:
        buckets //= 2
        bucket += (n < 0).astype(np.int32) * buckets
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    exact = buckets // 2
    large = exact + (
        np.log(n.astype(np.float32) / exact + np.finfo(np.float32).eps) / np.log(max_distance / exact) * (buckets - exact)
    ).astype(np.int32)
    return bucket + np.where(n < exact, n, np.minimum(large, buckets - 1))


def _t5x() -> JaxSide:
    """T5.1.1 as T5X's example network writes it (t5x/examples/t5/network.py and layers.py): a shared
    `token_embedder`; `encoder` and `decoder` with one `relpos_bias` table (heads, buckets) each, shared
    by their layers, `layers_i` with `pre_attention_layer_norm`, `attention` (`query`, `key`, `value`
    kernels (D, heads, head dim), `out` (heads, head dim, D)), `pre_mlp_layer_norm` and `mlp` (`wi_0`
    gelu, `wi_1` linear, `wo`); the decoder's layers add `encoder_decoder_attention`; `encoder_norm`,
    `decoder_norm`, and the untied `logits_dense`. No biases, no 1/sqrt(d) in attention, as T5's."""
    import jax
    import jax.numpy as jnp
    from flax import linen

    width, heads, head_dim = _T5["width"], _T5["heads"], _T5["head_dim"]

    class LayerNorm(linen.Module):
        @linen.compact
        def __call__(self, x):
            scale = self.param("scale", linen.initializers.ones, (x.shape[-1],))
            return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-6) * scale

    class MultiHeadDotProductAttention(linen.Module):
        @linen.compact
        def __call__(self, inputs_q, inputs_kv, bias):
            dense = functools.partial(linen.DenseGeneral, (heads, head_dim), use_bias=False)
            q, k, v = dense(name="query")(inputs_q), dense(name="key")(inputs_kv), dense(name="value")(inputs_kv)
            weights = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) + bias, axis=-1)
            y = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
            return linen.DenseGeneral(width, axis=(-2, -1), use_bias=False, name="out")(y)

    class MlpBlock(linen.Module):
        @linen.compact
        def __call__(self, x):
            gate = linen.gelu(linen.DenseGeneral(_T5["mlp"], use_bias=False, name="wi_0")(x))
            y = gate * linen.DenseGeneral(_T5["mlp"], use_bias=False, name="wi_1")(x)
            return linen.DenseGeneral(width, use_bias=False, name="wo")(y)

    class RelativePositionBiases(linen.Module):
        bidirectional: bool

        @linen.compact
        def __call__(self, length):
            positions = np.arange(length)
            bucket = _relative_position_bucket(
                positions[None, :] - positions[:, None], self.bidirectional, _T5["buckets"], _T5["max_distance"]
            )
            table = self.param("rel_embedding", linen.initializers.normal(1.0), (heads, _T5["buckets"]))
            return table[:, bucket][None]

    class EncoderLayer(linen.Module):
        @linen.compact
        def __call__(self, x, bias):
            y = LayerNorm(name="pre_attention_layer_norm")(x)
            x = x + MultiHeadDotProductAttention(name="attention")(y, y, bias)
            return x + MlpBlock(name="mlp")(LayerNorm(name="pre_mlp_layer_norm")(x))

    class DecoderLayer(linen.Module):
        @linen.compact
        def __call__(self, x, encoded, bias):
            y = LayerNorm(name="pre_self_attention_layer_norm")(x)
            x = x + MultiHeadDotProductAttention(name="self_attention")(y, y, bias)
            y = LayerNorm(name="pre_cross_attention_layer_norm")(x)
            x = x + MultiHeadDotProductAttention(name="encoder_decoder_attention")(y, encoded, 0.0)
            return x + MlpBlock(name="mlp")(LayerNorm(name="pre_mlp_layer_norm")(x))

    class Encoder(linen.Module):
        shared_embedding: linen.Module

        @linen.compact
        def __call__(self, tokens):
            bias = RelativePositionBiases(True, name="relpos_bias")(tokens.shape[1])
            x = self.shared_embedding(tokens)
            for index in range(_T5["depth"]):
                x = EncoderLayer(name=f"layers_{index}")(x, bias)
            return LayerNorm(name="encoder_norm")(x)

    class Decoder(linen.Module):
        shared_embedding: linen.Module

        @linen.compact
        def __call__(self, encoded, tokens):
            length = tokens.shape[1]
            causal = jnp.where(jnp.tril(jnp.ones((length, length), bool)), 0.0, -1e10)
            bias = RelativePositionBiases(False, name="relpos_bias")(length) + causal
            y = self.shared_embedding(tokens)
            for index in range(_T5["depth"]):
                y = DecoderLayer(name=f"layers_{index}")(y, encoded, bias)
            y = LayerNorm(name="decoder_norm")(y)
            return linen.DenseGeneral(_T5["vocabulary"], use_bias=False, name="logits_dense")(y)

    class Transformer(linen.Module):
        def setup(self):
            self.token_embedder = linen.Embed(_T5["vocabulary"], width)
            self.encoder = Encoder(shared_embedding=self.token_embedder)
            self.decoder = Decoder(shared_embedding=self.token_embedder)

        def __call__(self, encoder_tokens, decoder_tokens):
            return self.decoder(self.encoder(encoder_tokens), decoder_tokens)

    model = Transformer()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, _TEXT_LENGTH), jnp.int32), jnp.zeros((1, _TEXT_LENGTH // 2), jnp.int32))
    apply = jax.jit(model.apply)

    def run(variables, tokens):
        return apply(variables, jnp.asarray(tokens["encoder"], jnp.int32), jnp.asarray(tokens["decoder"], jnp.int32))

    return JaxSide(variables, run)


def _heads_in(weight):
    return weight.T.reshape(_T5["width"], _T5["heads"], -1)


def _heads_out(weight):
    return weight.T.reshape(_T5["heads"], -1, _T5["width"])


def _t5_attention(mine: str, theirs: str) -> list:
    return [
        *((f"{mine}/{name}/kernel", f"{theirs}.{short}.weight", _heads_in) for name, short in (("query", "q"), ("key", "k"), ("value", "v"))),
        (f"{mine}/out/kernel", f"{theirs}.o.weight", _heads_out),
    ]


def _t5_stack(side: str, layers: list) -> list:
    """One stack's rules: `layers` is (my sub-layer, their layer index, their module) for each piece."""
    rules = [(f"params/{side}/relpos_bias/rel_embedding", f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight", _transpose)]
    for mine, index, theirs in layers:
        prefix, source = f"params/{side}/layers_{{i}}", f"{side}.block.{{i}}.layer.{index}"
        if theirs is None:
            rules.append((f"{prefix}/{mine}/scale", f"{source}.layer_norm.weight", _same))
        elif mine == "mlp":
            rules += [(f"{prefix}/mlp/{w}/kernel", f"{source}.DenseReluDense.{w}.weight", _transpose) for w in ("wi_0", "wi_1", "wo")]
        else:
            rules += _t5_attention(f"{prefix}/{mine}", f"{source}.{theirs}")
    return rules + [(f"params/{side}/{side}_norm/scale", f"{side}.final_layer_norm.weight", _same)]


# T5X's T5 <- transformers' T5.
_T5_TO_T5X = [
    ("params/token_embedder/embedding", "shared.weight", _same),
    *_t5_stack(
        "encoder",
        [("pre_attention_layer_norm", 0, None), ("attention", 0, "SelfAttention"), ("pre_mlp_layer_norm", 1, None), ("mlp", 1, "")],
    ),
    *_t5_stack(
        "decoder",
        [
            ("pre_self_attention_layer_norm", 0, None),
            ("self_attention", 0, "SelfAttention"),
            ("pre_cross_attention_layer_norm", 1, None),
            ("encoder_decoder_attention", 1, "EncDecAttention"),
            ("pre_mlp_layer_norm", 2, None),
            ("mlp", 2, ""),
        ],
    ),
    ("params/decoder/logits_dense/kernel", "lm_head.weight", _transpose),
]


# ---------------------------------------------------------------------------- the pairs

_CONVNEXT = dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), classes=10)
_TIMM_CONVNEXT = dict(depths=_CONVNEXT["depths"], dims=_CONVNEXT["dims"], num_classes=_CONVNEXT["classes"])
_CONVNEXT_NOTES = (
    "Four stages of 1, 1, 2, 1 blocks, widths 16 to 64; LayerNorm eps 1e-6 and exact GELU on both sides "
    "(the release's and timm's defaults). "
)

UNPAIRED = [
    (
        "Llama and Mixtral with the releases' interleaved rotary embedding",
        "Meta's and Mistral's code rotate interleaved pairs of each head, transformers rotates halves; "
        "transformers' own conversion permutes the rows of wq and wk within each head, a permutation no "
        "name, shape or layout shows. The pairs here rotate halves on both sides (see _meta_llama).",
    ),
]


def _pair(name, family, source, target, build_source, build_target, make_input, rules, notes, fast=False) -> ZooPair:
    return ZooPair(
        name=name,
        family=family,
        source=source,
        target=target,
        fast=fast,
        notes=notes,
        build_source=build_source,
        build_target=build_target,
        make_input=make_input,
        prove=_by_rules(rules),
    )


def pairs() -> list[ZooPair]:
    convnext_back = _reversed(_CONVNEXT_RULES, {_grn_from_original: _grn_to_original})
    text = _tokens(_VOCABULARY, _TEXT_LENGTH)
    original_moe = _original_mixtral(vocabulary=_VOCABULARY, rope_theta=1e6, **_MOE)
    moe_notes = (
        "Three experts, one per token (top-1), 4 query and 2 key/value heads, rope theta 1e6, rms eps 1e-5, "
        "untied output; both rotate halves of each head (see pairs._original_mixtral). Per-expert w1, w3 "
        "concatenate and stack into experts.gate_up_proj (E, 2I, H), w2 into experts.down_proj."
    )
    found = []
    for version, timm_name, extra in ((1, "convnext_tiny", "V1: layer scale gamma (C,) on both sides."), (2, "convnextv2_tiny", "V2: GRN gamma/beta are (1, 1, 1, C) in the release and (C,) in timm.")):
        label = "convnext" if version == 1 else "convnextv2"
        original = _original_convnext(version, _CONVNEXT["depths"], _CONVNEXT["dims"], _CONVNEXT["classes"])
        found += [
            _pair(f"{label}: facebook original -> timm", f"ConvNeXt-V{version}", "original", "timm", original,
                  _timm(timm_name, **_TIMM_CONVNEXT), _image(64), _CONVNEXT_RULES, _CONVNEXT_NOTES + extra),
            _pair(f"{label}: timm -> facebook original", f"ConvNeXt-V{version}", "timm", "original",
                  _timm(timm_name, **_TIMM_CONVNEXT), original, _image(64), convnext_back, _CONVNEXT_NOTES + extra),
        ]
    found += [
        _pair("vit: torchvision -> flax (fused qkv)", "ViT", "torchvision", "flax", _torchvision_vit, _flax_vit_fused,
              _image(32), _TORCHVISION_VIT_TO_FLAX,
              "torchvision's in_proj_weight (q, k, v rows) is the Flax block's Dense_0 kernel transposed; "
              "LayerNorm eps 1e-6 and exact GELU set on the Flax side (Flax defaults: 1e-6, tanh)."),
        _pair("vit: google flax -> timm", "ViT", "original-flax", "timm", _google_flax_vit, _timm_vit(act_layer="gelu_tanh"),
              _image(32), _GOOGLE_VIT_TO_TIMM,
              "The release's GELU is Flax's default tanh approximation: timm's act_layer='gelu_tanh'; "
              "per-head query/key/value kernels (D, heads, head dim) fuse into timm's qkv."),
        _pair("vit: timm -> google flax", "ViT", "timm", "original-flax", _timm_vit(act_layer="gelu_tanh"), _google_flax_vit,
              _image(32), _TIMM_VIT_TO_GOOGLE,
              "The inverse of vit: google flax -> timm: timm's fused qkv splits into per-head kernels."),
    ]
    haiku_notes = "gelu_new (tanh) and LayerNorm eps 1e-5 on both sides; Conv1D's (in, out) weights are Haiku's w as they are. "
    found += [
        _pair("gpt2: transformers tied -> haiku tied", "GPT-2", "transformers", "haiku", _transformers_gpt2(True, "gelu_new"),
              _haiku_gpt2(True), text, _GPT2_TO_HAIKU, haiku_notes + "Both read the token embedding as the output head."),
        _pair("gpt2: transformers tied -> haiku untied", "GPT-2", "transformers", "haiku", _transformers_gpt2(True, "gelu_new"),
              _haiku_gpt2(False), text, _GPT2_TO_HAIKU,
              haiku_notes + "transformers' tied wte/lm_head (one tensor, two names) feeds Haiku's token_embed and its own lm_head."),
        _pair("gpt2: transformers untied -> haiku untied", "GPT-2", "transformers", "haiku", _transformers_gpt2(False, "gelu_new"),
              _haiku_gpt2(False), text, _GPT2_TO_HAIKU, haiku_notes + "Untied heads on both sides."),
    ]
    nanogpt_notes = "Exact GELU on both sides (nanoGPT's nn.GELU(), transformers' activation_function='gelu'), LayerNorm eps 1e-5. "
    found += [
        _pair("nanogpt: transformers tied -> nanogpt tied", "GPT-2", "transformers", "original", _transformers_gpt2(True, "gelu"),
              _nanogpt(True), text, _GPT2_TO_NANOGPT, nanogpt_notes + "Tied on both sides: one tensor under two names each."),
        _pair("nanogpt: transformers tied -> nanogpt untied", "GPT-2", "transformers", "original", _transformers_gpt2(True, "gelu"),
              _nanogpt(False), text, _GPT2_TO_NANOGPT, nanogpt_notes + "The tied tensor must feed both untied targets, wte and lm_head."),
        _pair("nanogpt: transformers untied -> nanogpt untied", "GPT-2", "transformers", "original", _transformers_gpt2(False, "gelu"),
              _nanogpt(False), text, _GPT2_TO_NANOGPT, nanogpt_notes + "Untied heads on both sides."),
        _pair("nanogpt: nanogpt tied -> transformers tied", "GPT-2", "original", "transformers", _nanogpt(True),
              _transformers_gpt2(True, "gelu"), text, _reversed(_GPT2_TO_NANOGPT, {}), nanogpt_notes + "Tied on both sides."),
    ]
    openai_notes = (
        "OpenAI's tanh GELU and LayerNorm eps 1e-5: transformers' activation_function='gelu_new', layer_norm_epsilon=1e-5. "
        "Conv1D's (in, out) weights are OpenAI's conv1d w (1, in, out); OpenAI's head is wte itself, transformers' "
        "tied wte/lm_head one tensor under two names."
    )
    found += [
        _pair("gpt2: transformers tied -> openai original", "GPT-2", "transformers", "original", _transformers_gpt2(True, "gelu_new"),
              _openai_gpt2, text, _GPT2_TO_OPENAI, openai_notes),
        _pair("gpt2: openai original -> transformers tied", "GPT-2", "original", "transformers", _openai_gpt2,
              _transformers_gpt2(True, "gelu_new"), text, _OPENAI_TO_GPT2, openai_notes + " wte feeds both tied names."),
    ]
    found += [
        _pair("resnet18: torchvision -> flax", "ResNet", "torchvision", "flax", _torchvision_resnet18, _flax_resnet,
              _image(_RESNET["image"]), _TORCHVISION_RESNET_TO_FLAX,
              "torchvision's resnet18 (two basic blocks per stage, widths 64 to 512) against the Flax examples' "
              "ResNet-18: BatchNorm eps 1e-5 on both sides, running mean and variance in Flax's batch_stats, "
              "torchvision's num_batches_tracked without a partner; padding as torchvision's (see _flax_resnet)."),
    ]
    found += [
        _pair("t5: transformers -> t5x flax", "T5", "transformers", "flax", _transformers_t5, _t5x,
              _encoder_decoder_tokens(_VOCABULARY), _T5_TO_T5X,
              "T5 v1.1 on both sides: gated GELU (tanh) feed-forward, RMS norms eps 1e-6, 32 relative position "
              "buckets up to distance 128 (one table per stack, in its first block in transformers), untied "
              "output head; compares the logits. transformers' shared, encoder and decoder token tables are one "
              "tensor under three names, T5X's token_embedder one leaf."),
    ]
    found += [
        _pair("mamba: transformers -> flax", "Mamba", "transformers", "flax", _transformers_mamba, _flax_mamba, text, _MAMBA_TO_FLAX,
              "RMS norm eps 1e-5, silu, no projection biases, conv bias, state 8, conv kernel 4, dt rank 8 on both sides; "
              "compares the last hidden state (transformers' slow sequential scan against jax.lax.scan)."),
        _pair("whisper: transformers -> openai", "Whisper", "transformers", "original", _transformers_whisper, _openai_whisper,
              _whisper_inputs, _WHISPER_TO_OPENAI,
              "Exact GELU, LayerNorm eps 1e-5, no embedding scale on both sides; compares the logits. transformers' tied "
              "embed_tokens/proj_out is OpenAI's token_embedding; encoder_attn is cross_attn; the encoder's position "
              "table is a buffer in OpenAI's code and a parameter in transformers'."),
        _pair("whisper: openai -> transformers", "Whisper", "original", "transformers", _openai_whisper, _transformers_whisper,
              _whisper_inputs, _OPENAI_TO_WHISPER,
              "The inverse of whisper: transformers -> openai: OpenAI's token_embedding feeds both tied names."),
        _pair("llama: meta original -> transformers", "Llama", "original", "transformers", _meta_llama, _transformers_llama, text,
              _META_TO_LLAMA, "4 query and 2 key/value heads, rms eps 1e-5, rope theta 1e4, untied output; both rotate halves "
              "of each head (see _meta_llama); w1, w2, w3 are gate, down and up projections."),
        _pair("mixtral-top1: mistral original -> transformers", "Mixtral", "original", "transformers", original_moe,
              _transformers_mixtral, text, _MOE_TO_TRANSFORMERS, moe_notes),
        _pair("mixtral-top1: transformers -> mistral original", "Mixtral", "transformers", "original", _transformers_mixtral,
              original_moe, text, _TRANSFORMERS_TO_MOE, moe_notes + " The stacked experts split into one module each."),
        _pair("llama: transformers -> equinox", "Llama", "transformers", "equinox", _transformers_llama, _equinox_llama, text,
              _LLAMA_TO_EQUINOX, "Configs as llama: meta original -> transformers; Equinox's Linear keeps (out, in) weights."),
        _pair("gpt2: transformers tied -> equinox tied", "GPT-2", "transformers", "equinox", _transformers_gpt2(True, "gelu_new"),
              _equinox_gpt2, text, _GPT2_TO_EQUINOX,
              "gelu_new (tanh) and LayerNorm eps 1e-5 on both sides; transformers' fused Conv1D c_attn (in, 3 out) "
              "splits into Equinox's MultiheadAttention query, key and value projections (out, in); tied on both "
              "sides: one tensor under two names in transformers, one leaf in Equinox."),
        _pair("bert: transformers -> flax nnx", "BERT", "transformers", "flax-nnx", _transformers_bert, _nnx_bert, text,
              _BERT_TO_NNX, "Exact GELU and LayerNorm eps 1e-12 on both sides, post-norm, two segments, no pooler; "
              "the NNX tree's list indices are int keys."),
        _pair("llama: transformers -> meta original", "Llama", "transformers", "original", _transformers_llama, _meta_llama, text,
              _reversed(_META_TO_LLAMA, {}), "The inverse of llama: meta original -> transformers."),
    ]
    return found
