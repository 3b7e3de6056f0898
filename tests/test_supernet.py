"""The weight-entangled supernet: every subnet a slice of one set of weights, and `extract` gives a
plain module with the same output and exactly the counted parameters."""

from __future__ import annotations

import json
import random
from importlib import resources

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search.space import load_space, space_from_dict
from search.space.params import count_params
from search.space.sampling import max_config, min_config, random_config
from search.supernet.extract import extract
from search.supernet.model import Supernet
from search.supernet.ops import ElasticModule
from search.supernet.static import StaticSubnet
from tests.conftest import randomise_norms


def _max_abs_diff(net: Supernet, config, batch: int = 2) -> float:
    net.set_active(config)
    static = extract(net, config)
    x = torch.randn(batch, 3, config.resolution, config.resolution, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return (net(x) - static(x)).abs().max().item()


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_extracted_subnet_matches_supernet_output_and_counted_params(tiny_supernet, seed: int) -> None:
    space = tiny_supernet.space
    config = random_config(space, random.Random(seed))
    assert _max_abs_diff(tiny_supernet, config) <= 1e-5
    static = extract(tiny_supernet, config)
    assert sum(p.numel() for p in static.parameters()) == count_params(config, space)


def test_xxs_subnets_match_the_supernet_at_192_px() -> None:
    space = load_space("xxs")
    torch.manual_seed(0)
    net = Supernet(space)
    randomise_norms(net)
    net.eval()
    rng = random.Random(5)
    for config in [min_config(space, 192), max_config(space, 192)] + [random_config(space, rng, 192) for _ in range(3)]:
        assert _max_abs_diff(net, config, batch=1) <= 1e-5
        assert sum(p.numel() for p in extract(net, config).parameters()) == count_params(config, space)


def test_layernorm_space_is_exact_too() -> None:
    raw = json.loads((resources.files("search.space") / "definitions" / "tiny.json").read_text())
    raw["norm"] = "layernorm"
    space = space_from_dict(raw)
    torch.manual_seed(0)
    net = Supernet(space)
    randomise_norms(net)
    net.eval()
    config = random_config(space, random.Random(2))
    assert _max_abs_diff(net, config) <= 1e-5
    assert sum(p.numel() for p in extract(net, config).parameters()) == count_params(config, space)


def test_activating_a_config_reallocates_nothing(tiny_supernet) -> None:
    before = {name: (p.data_ptr(), p.shape) for name, p in tiny_supernet.named_parameters()}
    for seed in range(5):
        tiny_supernet.set_active(random_config(tiny_supernet.space, random.Random(seed)))
    after = {name: (p.data_ptr(), p.shape) for name, p in tiny_supernet.named_parameters()}
    assert after == before


def test_forward_without_an_active_subnet_is_an_error(tiny) -> None:
    with pytest.raises(RuntimeError, match="set_active"):
        Supernet(tiny)(torch.zeros(1, 3, 64, 64))


def test_training_updates_only_the_active_slice_of_running_statistics(tiny) -> None:
    net = Supernet(tiny).train()
    config = min_config(tiny)
    net.set_active(config)
    net(torch.randn(4, 3, 64, 64))
    stem_bn = net.stem.bn
    assert not torch.equal(stem_bn.running_mean[: config.stem], torch.zeros(config.stem))
    assert torch.equal(stem_bn.running_mean[config.stem :], torch.zeros(max(tiny.stem.width) - config.stem))


def test_gradients_reach_only_the_active_weights(tiny) -> None:
    net = Supernet(tiny).train()
    config = min_config(tiny)
    net.set_active(config)
    net(torch.randn(2, 3, 64, 64)).sum().backward()
    q = net.stages[3].transformer[0].attn.q.weight
    active_rows = config.transformer[0].heads[0] * tiny.head_dim
    assert q.grad[:active_rows, : config.transformer[0].width].abs().sum() > 0
    assert q.grad[active_rows:].abs().sum() == 0
    assert net.stages[3].transformer[1].attn.q.weight.grad is None


def test_static_subnet_contains_no_elastic_layers(tiny_supernet) -> None:
    config = max_config(tiny_supernet.space)
    tiny_supernet.set_active(config)
    static = extract(tiny_supernet, config)
    assert isinstance(static, StaticSubnet)
    assert not any(isinstance(m, ElasticModule) for m in static.modules())
    assert static.config == config


def test_with_fixed_shortcuts_a_transition_of_matching_widths_takes_no_skip_and_extracts_the_same(tiny) -> None:
    torch.manual_seed(0)
    fixed, switching = Supernet(tiny, fixed_shortcuts=True), Supernet(tiny)
    randomise_norms(fixed)
    switching.load_state_dict(fixed.state_dict())  # the same weights: only the shortcut differs
    config = min_config(tiny)
    assert config.stem == config.mbconv[0].width and tiny.mbconv[0].stride == 1  # MBConv-1's transition would skip
    h = torch.randn(2, config.stem, 32, 32, generator=torch.Generator().manual_seed(0))  # the stem's output
    with torch.no_grad():
        fixed.eval().set_active(config), switching.eval().set_active(config)
        assert torch.allclose(switching.stages[0](h) - fixed.stages[0](h), h, atol=1e-5)  # the skip, and only it
    static = extract(fixed, config).eval()
    assert static.fixed_shortcuts and not static.stages[0][0].has_skip
    assert _max_abs_diff(fixed, config) <= 1e-5


def test_with_a_head_per_stage_count_3_and_4_stage_subnets_read_their_own_classifier(tiny) -> None:
    torch.manual_seed(0)
    net = Supernet(tiny, head_per_stage_count=True).train()
    config = min_config(tiny)  # 3 transformer stages
    net.set_active(config)
    net(torch.randn(2, 3, 64, 64)).sum().backward()
    assert len(config.transformer) == 3 and not hasattr(net, "head")
    assert net.heads["3"].fc.weight.grad is not None and net.heads["4"].fc.weight.grad is None


def test_a_subnet_extracted_with_a_head_per_stage_count_keeps_its_own_classifier(tiny) -> None:
    torch.manual_seed(0)
    net = Supernet(tiny, head_per_stage_count=True)
    randomise_norms(net)
    net.eval()
    for config in (min_config(tiny), max_config(tiny)):
        assert _max_abs_diff(net, config) <= 1e-5
        assert sum(p.numel() for p in extract(net, config).parameters()) == count_params(config, tiny)
