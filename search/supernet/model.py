"""The weight-entangled supernet: one set of weights per space, every subnet a slice of it.

`set_active(config)` only records sizes on the blocks (no allocation), then `forward` runs that
subnet. Module names mirror `search.supernet.static`, which is what makes `extract` a plain walk.

Head-dimension rule: q, k and v each project to `heads x head_dim`, with `head_dim` fixed per
space (AutoFormer's rule). Table 1 pairs widths with head counts that do not divide them (64 with 3
heads); a fixed per-head size keeps every head count valid for every width and keeps the attention
reshape static for export.
"""

from __future__ import annotations

import torch
from torch import nn

from search.space import SearchSpace
from search.space.config import SubnetConfig, validate
from search.supernet.functional import attention, fold_patches, unfold_patches
from search.supernet.ops import (
    ElasticBatchNorm,
    ElasticConv2d,
    ElasticDepthwiseConv2d,
    ElasticLinear,
    elastic_token_norm,
)


class ElasticConvNormAct(nn.Module):
    def __init__(self, max_in: int, max_out: int, kernel: int, stride: int = 1, in_parts: int = 1) -> None:
        super().__init__()
        self.conv = ElasticConv2d(max_in, max_out, kernel, stride, in_parts)
        self.bn = ElasticBatchNorm(max_out)
        self.act = nn.SiLU()
        self.out_channels = max_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x, self.out_channels)))


class ElasticInvertedResidual(nn.Module):
    """MobileNetV2 block (timm `InvertedResidual` layout); hidden width = input width x expansion.
    The skip is taken when the active input and output match, exactly as timm decides it, unless
    `noskip` (timm's name) fixes it off whatever the widths."""

    def __init__(self, max_in: int, max_out: int, stride: int, max_expansion: float, noskip: bool = False) -> None:
        super().__init__()
        max_hidden = int(max_in * max_expansion)
        self.stride, self.noskip = stride, noskip
        self.conv_pw = ElasticConv2d(max_in, max_hidden, 1)
        self.bn1 = ElasticBatchNorm(max_hidden)
        self.conv_dw = ElasticDepthwiseConv2d(max_hidden, 3, stride)
        self.bn2 = ElasticBatchNorm(max_hidden)
        self.conv_pwl = ElasticConv2d(max_hidden, max_out, 1)
        self.bn3 = ElasticBatchNorm(max_out)
        self.act = nn.SiLU()
        self.out_channels, self.expansion = max_out, max_expansion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = int(x.shape[1] * self.expansion)
        y = self.act(self.bn1(self.conv_pw(x, hidden)))
        y = self.act(self.bn2(self.conv_dw(y)))
        y = self.bn3(self.conv_pwl(y, self.out_channels))
        if not self.noskip and self.stride == 1 and x.shape[1] == self.out_channels:
            y = y + x
        return y


class ElasticMBConvStage(nn.ModuleList):
    def __init__(
        self, max_in: int, max_width: int, max_depth: int, stride: int, transition_exp: float, max_exp: float, fixed_shortcuts: bool
    ) -> None:
        blocks = [ElasticInvertedResidual(max_in, max_width, stride, transition_exp, noskip=fixed_shortcuts)]
        blocks += [ElasticInvertedResidual(max_width, max_width, 1, max_exp) for _ in range(max_depth - 1)]
        super().__init__(blocks)
        self.depth = max_depth

    def set_active(self, width: int, depth: int, expansion: float) -> None:
        self.depth = depth
        self[0].out_channels = width
        for block in list(self)[1:]:
            block.out_channels, block.expansion = width, expansion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in list(self)[: self.depth]:
            x = block(x)
        return x


class ElasticAttention(nn.Module):
    def __init__(self, max_dim: int, max_heads: int, head_dim: int) -> None:
        super().__init__()
        self.head_dim, self.heads = head_dim, max_heads
        inner = max_heads * head_dim
        self.q = ElasticLinear(max_dim, inner)
        self.k = ElasticLinear(max_dim, inner)
        self.v = ElasticLinear(max_dim, inner)
        self.proj = ElasticLinear(inner, max_dim)

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        inner = self.heads * self.head_dim
        out = attention(self.q(x, inner), self.k(x, inner), self.v(x, inner), self.heads, seq_len)
        return self.proj(out, x.shape[-1])


class ElasticMlp(nn.Module):
    def __init__(self, max_dim: int, max_hidden: int) -> None:
        super().__init__()
        self.fc1 = ElasticLinear(max_dim, max_hidden)
        self.act = nn.SiLU()
        self.fc2 = ElasticLinear(max_hidden, max_dim)
        self.hidden = max_hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x, self.hidden)), x.shape[-1])


class ElasticTransformerLayer(nn.Module):
    def __init__(self, max_dim: int, max_heads: int, head_dim: int, max_ratio: float, norm: str) -> None:
        super().__init__()
        self.norm1 = elastic_token_norm(norm, max_dim)
        self.attn = ElasticAttention(max_dim, max_heads, head_dim)
        self.norm2 = elastic_token_norm(norm, max_dim)
        self.mlp = ElasticMlp(max_dim, int(max_dim * max_ratio))

    def set_active(self, width: int, heads: int, mlp_ratio: float) -> None:
        self.attn.heads = heads
        self.mlp.hidden = int(width * mlp_ratio)

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), seq_len)
        return x + self.mlp(self.norm2(x))


class ElasticMobileViTStage(nn.Module):
    def __init__(self, max_in: int, max_width: int, stride: int, space: SearchSpace, index: int, fixed_shortcuts: bool) -> None:
        super().__init__()
        st = space.transformer[index]
        self.patch = space.patch_size
        self.transition = ElasticInvertedResidual(max_in, max_width, stride, space.transition_expansion, noskip=fixed_shortcuts)
        self.conv_kxk = ElasticConvNormAct(max_width, max_width, 3)
        self.conv_1x1 = ElasticConv2d(max_width, max_width, 1)
        self.transformer = nn.ModuleList(
            ElasticTransformerLayer(max_width, max(st.heads), space.head_dim, max(st.mlp_ratio), space.norm)
            for _ in range(max(st.depth))
        )
        self.norm = elastic_token_norm(space.norm, max_width)
        self.conv_proj = ElasticConvNormAct(max_width, max_width, 1)
        self.conv_fusion = ElasticConvNormAct(2 * max_width, max_width, 3, in_parts=2)
        self.width, self.depth = max_width, len(self.transformer)

    def set_active(self, width: int, heads: tuple[int, ...], mlp_ratio: tuple[float, ...]) -> None:
        self.width, self.depth = width, len(heads)
        self.transition.out_channels = width
        self.conv_kxk.out_channels = self.conv_proj.out_channels = self.conv_fusion.out_channels = width
        for layer, h, r in zip(self.transformer, heads, mlp_ratio):
            layer.set_active(width, h, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.transition(x)
        b, _, h, w = x.shape
        y, seq_len = unfold_patches(self.conv_1x1(self.conv_kxk(x), self.width), self.patch)
        for layer in self.transformer[: self.depth]:
            y = layer(y, seq_len)
        y = self.conv_proj(fold_patches(self.norm(y), b, h, w, self.patch))
        return self.conv_fusion(torch.cat([x, y], dim=1))


class ElasticClassifierHead(nn.Module):
    def __init__(self, max_in: int, expansion: int, num_classes: int) -> None:
        super().__init__()
        self.expansion, self.num_classes = expansion, num_classes
        self.conv = ElasticConvNormAct(max_in, max_in * expansion, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = ElasticLinear(max_in * expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.conv.out_channels = x.shape[1] * self.expansion
        return self.fc(self.pool(self.conv(x)).flatten(1), self.num_classes)


class Supernet(nn.Module):
    """Every subnet of `space` in one module. With `head_per_stage_count`, subnets of 3 and of 4
    transformer stages each have a classifier of their own (`heads.3`, `heads.4`) instead of sharing
    `head`, which would read the last stage's output of either through the same channels.

    With `fixed_shortcuts`, no stage's first (transition) block ever takes its skip, as Once-for-All
    builds it: otherwise a stride-1 transition adds its input exactly when the active widths on both
    sides match, so the same weights learn a residual in one subnet and the whole mapping in the
    next. Blocks inside a stage always match, so their skips never switch either way. Subnets then
    differ from the default architecture by that one addition (`StaticSubnet(fixed_shortcuts=True)`)."""

    def __init__(self, space: SearchSpace, head_per_stage_count: bool = False, fixed_shortcuts: bool = False) -> None:
        super().__init__()
        self.space = space
        self.stem = ElasticConvNormAct(3, max(space.stem.width), space.stem.kernel, space.stem.stride)
        stages: list[nn.Module] = []
        prev = max(space.stem.width)
        for st in space.mbconv:
            stages.append(
                ElasticMBConvStage(
                    prev, max(st.width), max(st.depth), st.stride, space.transition_expansion, max(st.expansion), fixed_shortcuts
                )
            )
            prev = max(st.width)
        for i, st in enumerate(space.transformer):
            stages.append(ElasticMobileViTStage(prev, max(st.width), st.stride, space, i, fixed_shortcuts))
            prev = max(st.width)
        self.stages = nn.ModuleList(stages)
        def head() -> ElasticClassifierHead:
            return ElasticClassifierHead(max(space.head_widths), space.head.expansion, space.head.num_classes)

        self.head_per_stage_count, self.fixed_shortcuts = head_per_stage_count, fixed_shortcuts
        if head_per_stage_count:
            self.heads = nn.ModuleDict({str(n): head() for n in space.num_transformer_stages})
        else:
            self.head = head()
        self.num_active_stages = len(stages)
        self.active: SubnetConfig | None = None

    def set_active(self, config: SubnetConfig) -> None:
        """Select the subnet `forward` runs. Records sizes only: no parameter is created or copied."""
        validate(config, self.space)
        self.stem.out_channels = config.stem
        for stage, st in zip(self.stages, config.mbconv):
            stage.set_active(st.width, st.depth, st.expansion)
        for stage, st in zip(self.stages[len(config.mbconv) :], config.transformer):
            stage.set_active(st.width, st.heads, st.mlp_ratio)
        self.num_active_stages = len(config.mbconv) + len(config.transformer)
        self.active = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.active is None:
            raise RuntimeError("no subnet is active; call set_active(config) first")
        x = self.stem(x)
        for stage in self.stages[: self.num_active_stages]:
            x = stage(x)
        return self.get_submodule(self.head_name(self.active))(x)

    def head_name(self, config: SubnetConfig) -> str:
        """The name of the classifier `config` uses: `head`, or its stage count's."""
        return f"heads.{len(config.transformer)}" if self.head_per_stage_count else "head"
