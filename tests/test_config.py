"""Subnet configs: validation that says where, one canonical form, reproducible sampling, and
mutation / crossover that never leave the space."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.space import load_space
from search.space.config import ConfigError, SubnetConfig, TransformerStage, validate
from search.space.sampling import crossover, max_config, min_config, mutate, random_config

TINY = load_space("tiny")
XXS = load_space("xxs")
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def test_invalid_heads_error_names_stage_layer_field_and_allowed_values() -> None:
    config = max_config(XXS)
    stage = config.transformer[1]
    bad = dataclasses.replace(stage, heads=(3, 7, 3, 3, 3))
    config = dataclasses.replace(config, transformer=(config.transformer[0], bad, *config.transformer[2:]))
    with pytest.raises(ConfigError, match=r"Transformer-2 layer 2: heads=7 is not allowed; allowed values: 2, 3, 4"):
        validate(config, XXS)


@pytest.mark.parametrize("head, shown", [(None, "None"), ("2", "'2'")])
def test_a_config_documents_head_that_is_no_number_is_refused_as_written(head, shown) -> None:
    doc = min_config(TINY).to_dict()
    doc["transformer"][0]["heads"][0] = head
    with pytest.raises(ConfigError, match=rf"^Transformer-1 layer 1: heads={shown} is not allowed; allowed values: 1, 2$"):
        validate(SubnetConfig.from_dict(doc), TINY)


def test_invalid_mbconv_width_error_names_stage_and_allowed_values() -> None:
    config = min_config(XXS)
    mb = (dataclasses.replace(config.mbconv[0], width=20), *config.mbconv[1:])
    with pytest.raises(ConfigError, match=r"MBConv-1: width=20 is not allowed; allowed values: 16, 24"):
        validate(dataclasses.replace(config, mbconv=mb), XXS)


def test_non_increasing_transformer_widths_are_rejected() -> None:
    config = max_config(XXS)
    t = (dataclasses.replace(config.transformer[0], width=64), dataclasses.replace(config.transformer[1], width=64))
    with pytest.raises(ConfigError, match=r"Transformer-2: width=64 must be larger than Transformer-1's width 64"):
        validate(dataclasses.replace(config, transformer=t + config.transformer[2:]), XXS)


def test_two_transformer_stages_are_rejected() -> None:
    config = min_config(XXS)
    with pytest.raises(ConfigError, match=r"number of transformer stages=2 is not allowed; allowed values: 3, 4"):
        validate(dataclasses.replace(config, transformer=config.transformer[:2]), XXS)


def test_config_of_another_space_is_rejected() -> None:
    with pytest.raises(ConfigError, match="config is for space 'tiny', not 'xxs'"):
        validate(min_config(TINY), XXS)


def test_canonical_json_is_compact_sorted_and_round_trips() -> None:
    config = min_config(TINY)
    text = config.to_json()
    assert text.startswith('{"mbconv":[{"depth":1,"expansion":1,"width":8}')
    assert " " not in text
    assert SubnetConfig.from_json(text) == config


def test_hash_is_stable_and_distinguishes_configs() -> None:
    assert min_config(XXS).hash == SubnetConfig.from_json(min_config(XXS).to_json()).hash
    assert min_config(XXS).hash != max_config(XXS).hash
    assert len(min_config(XXS).hash) == 16


def test_config_document_with_mismatched_layer_lists_is_rejected() -> None:
    doc = min_config(TINY).to_dict()
    doc["transformer"][0]["heads"] = [1, 2]
    with pytest.raises(ConfigError, match="one length"):
        SubnetConfig.from_dict(doc)


@pytest.mark.parametrize("ratio", ["", "x", float("inf")])
def test_config_document_with_a_value_that_is_no_number_is_rejected(ratio) -> None:
    doc = min_config(TINY).to_dict()
    doc["transformer"][0]["mlp_ratio"][0] = ratio
    doc["stem"]["width"] = float("inf") if ratio == float("inf") else doc["stem"]["width"]
    with pytest.raises(ConfigError, match=r"^config document holds a value that is not a usable number \("):
        SubnetConfig.from_dict(doc)


def test_min_and_max_configs_take_the_extremes() -> None:
    low, high = min_config(XXS), max_config(XXS)
    assert (low.stem, len(low.transformer), low.transformer[0].heads) == (16, 3, (2, 2))
    assert (high.stem, len(high.transformer), high.transformer[3].heads) == (24, 4, (4,) * 5)
    assert high.transformer[3].mlp_ratio == (2.0,) * 5
    assert low.resolution == high.resolution == 256


def test_random_sampling_is_reproducible_from_the_seed() -> None:
    a = [random_config(XXS, random.Random(7)) for _ in range(3)]
    b = [random_config(XXS, random.Random(7)) for _ in range(3)]
    assert a == b
    draws = {random_config(XXS, random.Random(s)).hash for s in range(50)}
    assert len(draws) == 50


@settings(max_examples=200, deadline=None)
@given(seeds)
def test_random_configs_are_valid(seed: int) -> None:
    validate(random_config(XXS, random.Random(seed)), XXS)


@settings(max_examples=200, deadline=None)
@given(seeds, seeds)
def test_mutation_stays_in_the_space_and_keeps_resolution(seed_a: int, seed_m: int) -> None:
    parent = random_config(XXS, random.Random(seed_a))
    child = mutate(XXS, parent, random.Random(seed_m), p_depth=0.5, p_layer=0.5)
    assert validate(child, XXS) is child
    assert child.resolution == parent.resolution


@settings(max_examples=200, deadline=None)
@given(seeds, seeds, seeds)
def test_crossover_stays_in_the_space_and_takes_stages_from_the_parents(sa: int, sb: int, sc: int) -> None:
    a, b = random_config(XXS, random.Random(sa), 256), random_config(XXS, random.Random(sb), 256)
    child = crossover(XXS, a, b, random.Random(sc))
    validate(child, XXS)
    for i, stage in enumerate(child.transformer):
        assert stage in [p.transformer[i] for p in (a, b) if len(p.transformer) > i]


def test_mutation_with_zero_probabilities_is_the_identity() -> None:
    parent = random_config(XXS, random.Random(3))
    assert mutate(XXS, parent, random.Random(0), p_depth=0.0, p_layer=0.0) == parent


def test_certain_depth_mutation_changes_depths_over_many_draws() -> None:
    parent = min_config(XXS)
    children = [mutate(XXS, parent, random.Random(s), p_depth=1.0, p_layer=0.0) for s in range(20)]
    assert any(c.transformer[0].depth != 2 for c in children)
    assert all(isinstance(c.transformer[0], TransformerStage) for c in children)
