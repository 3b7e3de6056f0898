"""Tensor functions shared by the elastic supernet and the static subnets.

Both sides call the same code, so a subnet's static output can only differ from the supernet's by
weight copying. The forms are chosen to lower whole to XNNPACK: attention as explicit 3-D `bmm`
(fused SDPA and 4-D matmuls decompose into ops XNNPACK leaves on the CPU fallback), and
patch (un)folding as one reshape-permute-reshape each.
"""

from __future__ import annotations

import torch


def unfold_patches(x: torch.Tensor, patch: int) -> tuple[torch.Tensor, int]:
    """(B, C, H, W) -> tokens (B * patch^2 * N, C) and the sequence length N = H*W / patch^2.

    One sequence per pixel position of a patch, attending across patches, as MobileViT does.
    Tokens stay 2-D through the transformer so linears and norms need no reshapes around them
    (each reshape is a graph node, and lowering time grows with the node count)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 3, 5, 2, 4, 1)
    return x.reshape(-1, c), (h // patch) * (w // patch)


def fold_patches(x: torch.Tensor, batch: int, height: int, width: int, patch: int) -> torch.Tensor:
    """Inverse of `unfold_patches`: tokens (B * patch^2 * N, C) -> (B, C, H, W)."""
    c = x.shape[-1]
    x = x.reshape(batch, patch, patch, height // patch, width // patch, c)
    x = x.permute(0, 5, 3, 1, 4, 2)
    return x.reshape(batch, c, height, width)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, seq_len: int) -> torch.Tensor:
    """Multi-head attention on (B * N, heads * head_dim) projections, heads folded into the batch."""
    inner = q.shape[-1]
    b, n, head_dim = q.shape[0] // seq_len, seq_len, inner // heads

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(b, n, heads, head_dim).transpose(1, 2).reshape(b * heads, n, head_dim)

    scores = torch.bmm(split(q) * head_dim**-0.5, split(k).transpose(1, 2)).softmax(dim=-1)
    out = torch.bmm(scores, split(v))
    return out.reshape(b, heads, n, head_dim).transpose(1, 2).reshape(b * n, inner)
