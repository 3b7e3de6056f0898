"""The deploy form of a static subnet: every BatchNorm folded into a neighbouring conv or linear,
and every Dropout (the identity at inference) taken out.

Exported graphs shrink by a third, which matters because ExecuTorch's lowering time grows with the
node count (see benchmarks/export_cost.py), and a phone never runs the folded-away normalisations
anyway. Token BatchNorms sit *before* their linear layers (pre-norm transformer), so they fold on
the input side: W·(s⊙x + t) + b = (W·diag(s))·x + (W·t + b). LayerNorm spaces keep their norms.
"""

from __future__ import annotations

import copy

import torch
from timm.layers import ConvNormAct
from timm.models._efficientnet_blocks import InvertedResidual
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from search.supernet.static import MobileViTStage, TokenBatchNorm, TransformerLayer


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _fold_input_norm(norm: TokenBatchNorm, layer: nn.Linear | nn.Conv2d) -> None:
    """Fold a BatchNorm applied to `layer`'s input into `layer` itself (1x1 convs and linears)."""
    scale, shift = _bn_affine(norm)
    weight = layer.weight.reshape(layer.weight.shape[0], -1)
    bias = layer.bias if layer.bias is not None else torch.zeros(weight.shape[0])
    new_bias = bias + weight @ shift
    layer.weight.copy_((weight * scale).reshape(layer.weight.shape))
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias)
    else:
        layer.bias.copy_(new_bias)


def _fold_conv_bn(owner: nn.Module, conv: str, bn: str) -> None:
    norm = getattr(owner, bn)
    setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), norm))
    setattr(owner, bn, nn.Sequential(norm.drop, norm.act))


@torch.no_grad()
def deploy_form(model: nn.Module, in_place: bool = False) -> nn.Module:
    """An eval-mode copy of `model` with its BatchNorms folded away; outputs agree to float rounding.
    `in_place` folds `model` itself, for a caller that built it for this and keeps no other use of
    it: the copy is most of the folding's time (2.7 of the 4.6 s a tiny LUT plan's 79 networks
    take to build at 128 px)."""
    model = (model if in_place else copy.deepcopy(model)).eval()
    for module in list(model.modules()):
        if isinstance(module, TransformerLayer) and isinstance(module.norm1, TokenBatchNorm):
            for proj in (module.attn.q, module.attn.k, module.attn.v):
                _fold_input_norm(module.norm1, proj)
            _fold_input_norm(module.norm2, module.mlp.fc1)
            module.norm1, module.norm2 = nn.Identity(), nn.Identity()
        elif isinstance(module, MobileViTStage) and isinstance(module.norm, TokenBatchNorm):
            _fold_input_norm(module.norm, module.conv_proj.conv)
            module.norm = nn.Identity()
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Dropout):
                setattr(module, name, nn.Identity())
        if isinstance(module, ConvNormAct):
            _fold_conv_bn(module, "conv", "bn")
        elif isinstance(module, InvertedResidual):
            for conv, bn in (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")):
                _fold_conv_bn(module, conv, bn)
    return model
