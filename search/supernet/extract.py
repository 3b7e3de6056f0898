"""Static subnet extraction: build the plain module, then copy each tensor's slice from the supernet.

Because static and elastic modules share names, one walk covers every layer; each elastic layer's
`sliced` rule decides which part of its tensor a static layer of a given shape inherits.
"""

from __future__ import annotations

import torch

from search.space.config import SubnetConfig
from search.supernet.model import Supernet
from search.supernet.ops import ElasticModule
from search.supernet.static import StaticSubnet


def extract(supernet: Supernet, config: SubnetConfig) -> StaticSubnet:
    """A static copy of `config`'s weights, in the supernet's train/eval mode."""
    static = StaticSubnet(config, supernet.space, fixed_shortcuts=supernet.fixed_shortcuts)
    elastic = dict(supernet.named_modules())
    head = supernet.head_name(config)
    with torch.no_grad():
        for name, module in static.named_modules():
            own = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
            if not own:
                continue
            source = elastic.get(head + name[len("head"):] if name == "head" or name.startswith("head.") else name)
            if not isinstance(source, ElasticModule):
                raise RuntimeError(f"static layer {name!r} has no elastic counterpart in the supernet")
            for tensor_name, tensor in own:
                tensor.copy_(source.sliced(tensor_name, tensor.shape))
    return static.train(supernet.training)
