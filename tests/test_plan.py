"""The LUT plan: every searchable layer configuration in its stage context, each with a reference
network and a variant without the block, and networks shared rather than duplicated."""

from __future__ import annotations

from collections import Counter

import pytest

from orchestrator.plan.builder import build_plan, context_config
from search.space import load_space
from search.space.config import ConfigError, SubnetConfig

XXS = load_space("xxs")


@pytest.fixture(scope="module")
def xxs_plan():
    return build_plan(XXS)


def test_plan_has_one_layer_entry_per_stage_width_heads_and_ratio(xxs_plan) -> None:
    kinds = Counter(e.kind for e in xxs_plan.entries)
    assert kinds["transformer_layer"] == 4 * 2 * 3 * 2
    assert kinds["mbconv_layer"] == 3 * 2 * 1
    assert (kinds["stem"], kinds["head"], kinds["overhead"]) == (2, 3, 1)
    assert "transformer/Transformer-2/layer/w80/h3/r1.5" in {e.key for e in xxs_plan.entries}


def test_transformer_shells_skip_width_pairs_the_space_forbids(xxs_plan) -> None:
    shells = {e.key for e in xxs_plan.entries if e.kind == "transformer_shell"}
    assert "transformer/Transformer-2/shell/64->64" not in shells
    assert "transformer/Transformer-2/shell/48->64" in shells
    assert "transformer/Transformer-1/shell/48->64" in shells  # MBConv-3 -> Transformer-1 has no such rule
    assert len(shells) == 4 + 3 + 3 + 3


def test_layer_entry_reference_is_the_variant_plus_two_copies_of_the_layer(xxs_plan) -> None:
    entry = next(e for e in xxs_plan.entries if e.key == "transformer/Transformer-3/layer/w96/h4/r2")
    with_layers = xxs_plan.probes[entry.reference].subnet_config()
    without = xxs_plan.probes[entry.variant].subnet_config()
    assert entry.copies == 2
    assert with_layers.transformer[2].width == without.transformer[2].width == 96
    assert with_layers.transformer[2].heads == without.transformer[2].heads + (4, 4)
    assert with_layers.transformer[2].mlp_ratio == without.transformer[2].mlp_ratio + (2.0, 2.0)
    assert with_layers.transformer[:2] == without.transformer[:2] and with_layers.mbconv == without.mbconv


def test_mbconv_layer_entry_reference_is_two_blocks_deeper(xxs_plan) -> None:
    entry = next(e for e in xxs_plan.entries if e.key.startswith("mbconv/MBConv-2/layer/w32"))
    with_layers = xxs_plan.probes[entry.reference].subnet_config()
    without = xxs_plan.probes[entry.variant].subnet_config()
    assert (entry.copies, with_layers.mbconv[1].depth, without.mbconv[1].depth) == (2, 4, 2)


def test_fixed_parts_are_one_copy_against_none(xxs_plan) -> None:
    assert {e.copies for e in xxs_plan.entries if not e.kind.endswith("_layer")} == {1}


def test_a_version_1_plan_is_rebuilt_with_the_id_its_luts_recorded() -> None:
    one = build_plan(XXS, version=1)
    assert one.id == "b200ed47c0fefaae"  # tests/golden/identity.json, luts/host/xxs
    assert {e.copies for e in one.entries} == {1} and one.id != build_plan(XXS).id
    assert one.anchor == build_plan(XXS, version=2).anchor != build_plan(XXS).anchor


def test_the_context_network_is_the_widest_subnet_at_its_least_depth_with_every_transformer_stage() -> None:
    plan = build_plan(XXS)
    context = plan.probes[plan.anchor].subnet_config()
    assert plan.version == 4 and context == context_config(XXS, 256)
    assert context.stem == max(XXS.stem.width) and len(context.transformer) == len(XXS.transformer)
    assert [s.width for s in context.mbconv] == [max(s.width) for s in XXS.mbconv]
    assert [s.width for s in context.transformer] == [max(s.width) for s in XXS.transformer]
    assert [s.depth for s in context.transformer] == [min(s.depth) for s in XXS.transformer]
    assert context_config(XXS, 256, "smallest").stem == min(XXS.stem.width)


def test_fixed_parts_are_measured_by_truncation(xxs_plan) -> None:
    entry = next(e for e in xxs_plan.entries if e.key == "transformer/Transformer-2/shell/48->80")
    with_part, without = xxs_plan.probes[entry.reference], xxs_plan.probes[entry.variant]
    assert not with_part.head and not without.head
    a, b = with_part.subnet_config(), without.subnet_config()
    assert [s.width for s in a.transformer] == [48, 80] and a.transformer[1].depth == 0
    assert [s.width for s in b.transformer] == [48]
    assert all(s.depth == 1 for s in a.mbconv)


def test_stem_is_measured_against_the_overhead_stand_in(xxs_plan) -> None:
    overhead = next(e for e in xxs_plan.entries if e.kind == "overhead")
    assert overhead.variant is None and xxs_plan.probes[overhead.reference].kind == "overhead"
    assert all(e.variant == overhead.reference for e in xxs_plan.entries if e.kind == "stem")


def test_networks_are_shared_between_entries(xxs_plan) -> None:
    used = Counter(pid for e in xxs_plan.entries for pid in (e.reference, e.variant) if pid)
    assert set(used) | {e.working for e in xxs_plan.entries} == set(xxs_plan.probes)
    context = SubnetConfig.to_json(context_config(XXS, 256))
    context_id = next(pid for pid, p in xxs_plan.probes.items() if p.config == context and p.head)
    assert used[context_id] > 10
    assert len(used) < 2 * len(xxs_plan.entries)


def test_plan_id_is_stable_and_depends_on_resolution() -> None:
    assert build_plan(XXS).id == build_plan(XXS, 256).id
    assert build_plan(XXS, 192).id != build_plan(XXS).id


def test_resolution_outside_the_space_is_rejected() -> None:
    with pytest.raises(ConfigError, match="resolution 224 is not in space 'xxs'; choices: 192, 256"):
        build_plan(XXS, 224)
