"""Static subnets: plain `nn.Module`s of ordinary torch and timm layers, the only thing ever exported.

Module names mirror the elastic supernet's (`stages.4.transformer.1.attn.q`, ...), so extraction is
a walk over this module's state dict slicing the supernet's tensors. Convolutional parts are
timm's `InvertedResidual` and `ConvNormAct`; the transformer layer is ours because timm's fuses
q, k and v into one projection and uses 4-D attention, neither of which lowers whole to XNNPACK.
"""

from __future__ import annotations

import torch
from timm.layers import ConvNormAct, Mlp
from timm.models._efficientnet_blocks import InvertedResidual
from torch import nn

from search.space import SearchSpace
from search.space.config import SubnetConfig, validate
from search.supernet.functional import attention, fold_patches, unfold_patches


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channels of (tokens, C) (EfficientViT's choice over LayerNorm: it folds
    into neighbouring linear layers at inference and lowers to XNNPACK whole)."""


def token_norm(kind: str, dim: int) -> nn.Module:
    return TokenBatchNorm(dim) if kind == "batchnorm" else nn.LayerNorm(dim)


def inverted_residual(c_in: int, c_out: int, stride: int, expansion: float, noskip: bool = False) -> InvertedResidual:
    block = InvertedResidual(c_in, c_out, 3, stride=stride, exp_ratio=expansion, act_layer=nn.SiLU, noskip=noskip)
    if block.conv_pw.out_channels != int(c_in * expansion):
        raise ValueError(f"timm rounded the hidden width of {c_in} x {expansion}; use widths divisible by 8")
    return block


def conv_norm_act(c_in: int, c_out: int, kernel: int, stride: int = 1) -> ConvNormAct:
    return ConvNormAct(c_in, c_out, kernel, stride=stride, act_layer=nn.SiLU)


class Attention(nn.Module):
    """Separate q, k, v projections (sliceable independently in the supernet), 3-D bmm attention."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * head_dim
        self.q = nn.Linear(dim, inner)
        self.k = nn.Linear(dim, inner)
        self.v = nn.Linear(dim, inner)
        self.proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        return self.proj(attention(self.q(x), self.k(x), self.v(x), self.heads, seq_len))


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, mlp_hidden: int, norm: str) -> None:
        super().__init__()
        self.norm1 = token_norm(norm, dim)
        self.attn = Attention(dim, heads, head_dim)
        self.norm2 = token_norm(norm, dim)
        self.mlp = Mlp(dim, mlp_hidden, act_layer=nn.SiLU)

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), seq_len)
        return x + self.mlp(self.norm2(x))


class MobileViTStage(nn.Module):
    """Transition MBConv, then MobileViT's block: local conv, unfold, transformer, fold, fuse."""

    def __init__(
        self,
        c_in: int,
        width: int,
        stride: int,
        transition_expansion: float,
        layers: list[tuple[int, float]],
        head_dim: int,
        norm: str,
        patch: int,
        fixed_shortcuts: bool = False,
    ) -> None:
        super().__init__()
        self.patch = patch
        self.transition = inverted_residual(c_in, width, stride, transition_expansion, noskip=fixed_shortcuts)
        self.conv_kxk = conv_norm_act(width, width, 3)
        self.conv_1x1 = nn.Conv2d(width, width, 1, bias=False)
        self.transformer = nn.ModuleList(
            TransformerLayer(width, heads, head_dim, int(width * ratio), norm) for heads, ratio in layers
        )
        self.norm = token_norm(norm, width)
        self.conv_proj = conv_norm_act(width, width, 1)
        self.conv_fusion = conv_norm_act(2 * width, width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transition(x)
        b, _, h, w = x.shape
        y, seq_len = unfold_patches(self.conv_1x1(self.conv_kxk(x)), self.patch)
        for layer in self.transformer:
            y = layer(y, seq_len)
        y = self.conv_proj(fold_patches(self.norm(y), b, h, w, self.patch))
        return self.conv_fusion(torch.cat([x, y], dim=1))


class ClassifierHead(nn.Module):
    """The paper's MBPool: 1x1 expansion conv, global average pool, linear classifier."""

    def __init__(self, c_in: int, expansion: int, num_classes: int) -> None:
        super().__init__()
        self.conv = conv_norm_act(c_in, c_in * expansion, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in * expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).flatten(1))


class StaticSubnet(nn.Module):
    """`strict=False` builds configs outside the space's choices (a transformer stage with no layers,
    an extra layer): the latency profiler's measurement networks need them. `fixed_shortcuts`: no
    transition block takes its skip, as in a supernet trained with them (`Supernet`)."""

    def __init__(self, config: SubnetConfig, space: SearchSpace, strict: bool = True, fixed_shortcuts: bool = False) -> None:
        super().__init__()
        if strict:
            validate(config, space)
        self.config_json, self.fixed_shortcuts = config.to_json(), fixed_shortcuts
        self.resolution = config.resolution
        self.stem = conv_norm_act(3, config.stem, space.stem.kernel, space.stem.stride)
        stages: list[nn.Module] = []
        prev = config.stem
        for st, ss in zip(config.mbconv, space.mbconv):
            blocks = [inverted_residual(prev, st.width, ss.stride, space.transition_expansion, noskip=fixed_shortcuts)]
            blocks += [inverted_residual(st.width, st.width, 1, st.expansion) for _ in range(st.depth - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = st.width
        for st, ss in zip(config.transformer, space.transformer):
            layers = list(zip(st.heads, st.mlp_ratio))
            stages.append(
                MobileViTStage(
                    prev, st.width, ss.stride, space.transition_expansion, layers, space.head_dim, space.norm, space.patch_size,
                    fixed_shortcuts,
                )
            )
            prev = st.width
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(prev, space.head.expansion, space.head.num_classes)

    @property
    def config(self) -> SubnetConfig:
        return SubnetConfig.from_json(self.config_json)

    def example_input(self, batch: int = 1) -> torch.Tensor:
        return torch.randn(batch, 3, self.resolution, self.resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))
