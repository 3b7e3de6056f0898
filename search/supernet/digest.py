"""What identifies a model's numbers: the export cache keys a trained model's program by it, and the
quantizer remembers a model it has just quantized by it (`quantize.quantized_module`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def weights_digest(state: Mapping[str, Any]) -> str:
    """sha256 of a state dict's names, dtypes, shapes and bytes, in name order: two models with this
    digest and one configuration export to the same program."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
