"""The search spaces are Table 1 of the paper, value for value, and a bad space fails loudly."""

from __future__ import annotations

import json

import pytest

from search.space import SpaceError, load_space, space_from_dict, space_names

TABLE_1 = {
    "xxs": {
        "stem": [16, 24],
        "mbconv": [([16, 24], [1, 2]), ([24, 32], [2, 3]), ([32, 48], [2, 3])],
        "transformer": [[48, 64], [64, 80], [80, 96], [96, 112]],
        "heads": [2, 3, 4],
    },
    "xs": {
        "stem": [16, 24],
        "mbconv": [([24, 32], [1, 2]), ([32, 48], [2, 3]), ([48, 64], [2, 3])],
        "transformer": [[64, 80], [80, 96], [96, 112], [112, 128]],
        "heads": [4, 5, 6],
    },
    "s": {
        "stem": [16, 24],
        "mbconv": [([24, 32], [1, 2]), ([32, 48], [2, 3]), ([48, 64], [2, 3])],
        "transformer": [[64, 96], [96, 128], [128, 160], [160, 192]],
        "heads": [7, 8, 9],
    },
}


@pytest.mark.parametrize("name", ["xxs", "xs", "s"])
def test_paper_spaces_match_table_1(name: str) -> None:
    space, table = load_space(name), TABLE_1[name]
    assert list(space.stem.width) == table["stem"]
    assert [(list(s.width), list(s.depth)) for s in space.mbconv] == table["mbconv"]
    assert all(s.expansion == (1,) for s in space.mbconv)
    assert [list(s.width) for s in space.transformer] == table["transformer"]
    for stage in space.transformer:
        assert stage.depth == (2, 3, 4, 5)
        assert list(stage.heads) == table["heads"]
        assert stage.mlp_ratio == (1.5, 2)
    assert space.num_transformer_stages == (3, 4)
    assert (space.head.num_classes, space.head.expansion) == (1000, 6)
    assert space.default_resolution == 256


def test_bundled_spaces_are_listed_paper_sizes_first() -> None:
    assert space_names() == ["xxs", "xs", "s", "tiny"]


def test_unknown_space_error_names_the_known_ones() -> None:
    with pytest.raises(SpaceError, match="unknown search space 'm'; known spaces: xxs, xs, s, tiny"):
        load_space("m")


def test_subnet_count_of_tiny_matches_a_hand_count() -> None:
    space = load_space("tiny")
    per_layer = 2 * 2  # heads x MLP ratios
    per_stage = per_layer + per_layer**2  # depth 1 or 2
    increasing = {3: len(space.transformer_width_sequences(3)), 4: len(space.transformer_width_sequences(4))}
    # Adjacent stages share one value (24, 32, 40); a sequence is increasing unless a stage takes
    # its upper value and the next its lower. Enumerated by hand: 4 of 8 and 5 of 16 sequences.
    assert increasing == {3: 4, 4: 5}
    stem_and_mbconv = 2 * (2 * 2) ** 3
    expected = 2 * stem_and_mbconv * (increasing[3] * per_stage**3 + increasing[4] * per_stage**4)
    assert space.num_subnets() == expected


def test_space_hash_is_stable_and_tracks_structure() -> None:
    assert load_space("tiny").hash == load_space("tiny").hash
    raw = _raw("tiny")
    raw["head_dim"] = 16
    assert space_from_dict(raw).hash != load_space("tiny").hash


def _raw(name: str) -> dict:
    from importlib import resources

    return json.loads((resources.files("search.space") / "definitions" / f"{name}.json").read_text())


def test_resolution_that_does_not_split_into_patches_is_rejected() -> None:
    raw = _raw("tiny")
    raw["resolution"] = {"choices": [64, 96], "default": 64}
    with pytest.raises(SpaceError, match="resolution 96 is not a multiple of 64"):
        space_from_dict(raw)


def test_unknown_norm_is_rejected() -> None:
    raw = _raw("tiny")
    raw["norm"] = "groupnorm"
    with pytest.raises(SpaceError, match="norm must be one of batchnorm, layernorm"):
        space_from_dict(raw)


def test_space_file_missing_a_field_names_it() -> None:
    raw = _raw("tiny")
    del raw["head_dim"]
    with pytest.raises(SpaceError, match="head_dim"):
        space_from_dict(raw)
