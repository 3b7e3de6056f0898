"""The peak memory model: a model's peak is its load plus the largest working set of any one of its
parts, each measured on a network of its own (plan version 4); older LUTs keep the sum; the interval
is calibrated on the LUT's latest validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestrator.lut.memory import lut_memory
from orchestrator.lut.profile import WORKING_SETS, probes_of, session_groups, working_sets
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import Entry, ProbeSpec
from search.nas.lut import Lut
from search.nas.memory import MIB, MemoryPredictor
from search.nas.predictor import parts
from search.space import SearchSpace, load_space
from search.space.config import SubnetConfig
from search.space.encoding import decode, encode, random_batch
from search.space.sampling import every_config
from tests.lut_factory import CONTEXT, make_lut, restamped, sized_lut, with_memory
from tests.run_docs import model_doc, result_doc

SPACE = load_space("tiny")
METHOD = "host: resident set"


def with_working_sets(lut: dict, seed: int = 0) -> dict:
    """`lut` (with memory) whose every entry records a working set: 5-7 MiB, drawn per entry, so
    which part holds a subnet's peak differs from subnet to subnet."""
    rng = np.random.default_rng(seed)
    entries = {key: {**e, "memory": {**e["memory"], "working_bytes": float(rng.uniform(5, 7) * MIB)}} for key, e in sorted(lut["entries"].items())}
    return restamped({**lut, "entries": entries})


def test_the_peak_is_the_load_plus_the_largest_working_set_of_any_one_part() -> None:
    lut = with_working_sets(with_memory(make_lut(SPACE), SPACE))
    config = SubnetConfig.from_dict(CONTEXT)
    keys = [p.key for p in parts(config, SPACE)]
    predicted = MemoryPredictor(lut, SPACE).predict(config)
    load = sum(lut["entries"][k]["memory"]["load_bytes"] for k in keys)
    assert predicted.load_bytes == pytest.approx(load)
    early = MemoryPredictor(lut, SPACE).early.bytes(config)
    assert predicted.peak_bytes == pytest.approx(load + max(lut["entries"][k]["memory"]["working_bytes"] for k in keys) + early)


def test_the_peak_adds_the_channels_a_wider_stem_and_first_stage_hold_at_the_stem_s_resolution_beyond_the_narrowest() -> None:
    lut = with_working_sets(with_memory(make_lut(SPACE), SPACE))
    predictor = MemoryPredictor(lut, SPACE)
    context = SubnetConfig.from_dict(CONTEXT)
    first = dataclasses.replace(context.mbconv[0], width=min(SPACE.mbconv[0].width))
    narrow = dataclasses.replace(context, stem=min(SPACE.stem.width), mbconv=(first, *context.mbconv[1:]))
    wide_stem = dataclasses.replace(narrow, stem=max(SPACE.stem.width))
    side = 64 // SPACE.stem.stride  # the stem's output at the LUT's 64 px
    extra = (max(SPACE.stem.width) - narrow.stem) * side * side * 4
    assert (narrow.stem, narrow.mbconv[0].width) == (min(SPACE.stem.width), min(SPACE.mbconv[0].width))
    assert predictor.early.bytes(narrow) == 0.0 and predictor.early.bytes(wide_stem) == extra
    stages = list(wide_stem.mbconv)
    stages[0] = dataclasses.replace(stages[0], width=max(SPACE.mbconv[0].width))
    both = dataclasses.replace(wide_stem, mbconv=tuple(stages))
    assert SPACE.mbconv[0].stride == 1 and predictor.early.bytes(both) == extra + (max(SPACE.mbconv[0].width) - narrow.mbconv[0].width) * side * side * 4


def test_a_part_whose_working_set_is_the_largest_sets_the_peak_however_many_parts_are_smaller() -> None:
    lut = with_memory(make_lut(SPACE), SPACE)
    small = {k: {**e, "memory": {**e["memory"], "working_bytes": 4.0 * MIB}} for k, e in lut["entries"].items()}
    small["mbconv/MBConv-1/transition/16->16"]["memory"]["working_bytes"] = 9.0 * MIB
    predictor = MemoryPredictor(restamped({**lut, "entries": small}), SPACE)
    predicted = predictor.predict(config := SubnetConfig.from_dict(CONTEXT))
    assert predicted.peak_bytes - predicted.load_bytes - predictor.early.bytes(config) == pytest.approx(9.0 * MIB)


def test_a_batch_is_priced_as_each_of_its_subnets_alone_with_working_sets() -> None:
    predictor = MemoryPredictor(with_working_sets(with_memory(sized_lut(SPACE), SPACE)), SPACE)
    batch = random_batch(SPACE, 200, np.random.default_rng(0), 64)
    one_by_one = [predictor.predict(decode(batch, i, SPACE)) for i in range(200)]
    assert predictor.predict_batch(batch) == pytest.approx([m.peak_bytes for m in one_by_one])
    assert predictor.predict_batch(batch, "load_bytes") == pytest.approx([m.load_bytes for m in one_by_one])


def test_a_lut_without_working_sets_predicts_the_peak_as_the_sum_of_its_entries_as_before() -> None:
    lut = with_memory(make_lut(SPACE), SPACE)
    config = SubnetConfig.from_dict(CONTEXT)
    keys = [p.key for p in parts(config, SPACE)]
    old = MemoryPredictor(lut, SPACE).predict(config)
    assert old.peak_bytes == pytest.approx(sum(lut["entries"][k]["memory"]["peak_bytes"] for k in keys))
    assert MemoryPredictor(with_working_sets(lut), SPACE).predict(config).peak_bytes != pytest.approx(old.peak_bytes)


def small_space() -> SearchSpace:
    """Tiny with one choice of depth, heads and ratio per transformer stage: 2,304 subnets, few enough to list."""
    return dataclasses.replace(SPACE, transformer=tuple(dataclasses.replace(s, depth=(1,), heads=(2,), mlp_ratio=(2.0,)) for s in SPACE.transformer))


def test_the_least_peak_over_the_space_is_the_least_of_every_subnet_s_exactly() -> None:
    space = small_space()
    predictor = MemoryPredictor(with_working_sets(with_memory(sized_lut(space), space), seed=3), space)
    every = encode(list(every_config(space, 64)), space)
    assert predictor.least() == pytest.approx(float(predictor.predict_batch(every).min()), rel=1e-12)
    assert predictor.least("load_bytes") == pytest.approx(float(predictor.predict_batch(every, "load_bytes").min()), rel=1e-12)


def validated_lut(ratios: list[float]) -> tuple[Lut, list[SubnetConfig], MemoryPredictor]:
    """A LUT with working sets whose latest validation measured its subnets' peaks at `ratios` times their prediction."""
    lut = Lut.of(with_working_sets(with_memory(sized_lut(SPACE), SPACE)))
    predictor = MemoryPredictor(lut, SPACE)
    batch = random_batch(SPACE, len(ratios), np.random.default_rng(4), 64)
    configs = [decode(batch, i, SPACE) for i in range(len(ratios))]
    points = [
        {"config": c.to_dict(), "measured_memory_mib": {"load_mib": 1.0, "peak_mib": predictor.predict(c).peak_bytes / MIB * r}}
        for c, r in zip(configs, ratios)
    ]
    return lut.with_validation({"created_at": "2026-11-28T00:00:00+00:00", "points": points}), configs, predictor


def test_the_interval_is_calibrated_on_the_validated_subnets_errors() -> None:
    ratios = [1.02, 1.04, 1.03, 1.05, 1.01, 1.03]
    lut, _, _ = validated_lut(ratios)
    predictor = MemoryPredictor(lut, SPACE)
    errors = np.array(ratios) - 1
    from scipy.stats import t

    spread = t.ppf(0.975, len(errors) - 1) * errors.std(ddof=1) * np.sqrt(1 + 1 / len(errors))
    assert predictor.calibration is not None and predictor.calibration.centre == pytest.approx(errors.mean())
    assert predictor.interval(100.0) == pytest.approx((100 * (1 + errors.mean() - spread), 100 * (1 + errors.mean() + spread)))


def test_a_calibrated_interval_holds_its_point_where_the_subnets_all_measured_above_it() -> None:
    lut, _, _ = validated_lut([1.10, 1.11, 1.10, 1.12])
    low, high = MemoryPredictor(lut, SPACE).interval(100.0)
    assert low == 100.0 and high > 111.0


def test_without_a_validation_that_measured_memory_the_interval_is_the_measurement_s_spread() -> None:
    lut, _, _ = validated_lut([1.0, 1.0])  # fewer subnets than a calibration needs
    predictor = MemoryPredictor(lut, SPACE)
    assert predictor.calibration is None
    assert predictor.interval(100.0) == pytest.approx((100 - 1.96, 100 + 1.96), abs=1e-3)


def result(memory: dict[str, tuple[int, int]]) -> dict:
    return result_doc([model_doc(pid, memory=m, method=METHOD) for pid, m in memory.items()])


def test_an_entry_records_the_working_memory_of_its_own_network_at_the_median_session() -> None:
    stem = Entry("stem", "stem", None, {"width": 16}, reference="stem", variant="overhead", working="pooled-stem")
    overhead = Entry("overhead", "overhead", None, {}, reference="overhead", variant=None, working="overhead")
    sessions = [
        result({"stem": (5_000, 20_000), "overhead": (3_000, 12_000), "pooled-stem": (4_000, 19_000)}),
        result({"pooled-stem": (4_000, 21_000), "overhead": (3_000, 12_000)}),
        result({"pooled-stem": (4_100, 20_100)}),
    ]
    memory, _ = lut_memory([stem, overhead], sessions, "removal")
    assert memory["stem"] == {"load_bytes": 2_000, "peak_bytes": 8_000, "working_bytes": 16_000}
    assert memory["overhead"] == {"load_bytes": 3_000, "peak_bytes": 12_000, "working_bytes": 9_000}


def test_plan_version_4_gives_every_entry_a_working_set_network_and_keeps_version_3_s_networks() -> None:
    new, old = build_plan(SPACE, 128), build_plan(SPACE, 128, version=3)
    assert new.version == 4 and old.version == 3
    assert all(e.working is None for e in old.entries) and all(e.working in new.probes for e in new.entries)
    assert [dataclasses.replace(e, working=None) for e in new.entries] == list(old.entries)
    assert set(old.probes) < set(new.probes) and new.anchor == old.anchor
    working = {e.working for e in new.entries}
    assert len(set(new.probes) - set(old.probes)) == len(working - set(old.probes))


def test_a_working_set_network_is_the_part_on_the_narrowest_prefix_ended_by_a_pool() -> None:
    plan = build_plan(SPACE, 128)
    entries = {e.key: e for e in plan.entries}
    transition = plan.probes[entries["mbconv/MBConv-2/transition/16->24"].working]
    assert (transition.head, transition.pool) == (False, True)
    config = transition.subnet_config()
    assert (config.stem, [s.width for s in config.mbconv], [s.depth for s in config.mbconv], config.transformer) == (8, [16, 24], [1, 1], ())
    layer = plan.probes[entries["transformer/Transformer-2/layer/w32/h2/r1.5"].working].subnet_config()
    assert [s.width for s in layer.mbconv] == [8, 16, 24] and [(s.width, s.heads, s.mlp_ratio) for s in layer.transformer] == [(16, (), ()), (32, (2,), (2.0,))]
    assert entries["transformer/Transformer-2/layer/w32/h2/r2"].working == entries["transformer/Transformer-2/layer/w32/h2/r1.5"].working
    head = plan.probes[entries["head/w48"].working]
    assert head.head and head.pool is None and [s.width for s in head.subnet_config().transformer] == [16, 24, 32, 48]
    assert entries["overhead"].working == entries["overhead"].reference


def test_a_pool_is_part_of_a_network_s_identity_only_where_set() -> None:
    config = SubnetConfig.from_dict(CONTEXT).to_json()
    assert "pool" not in ProbeSpec("net", 64, config, False).to_dict()
    assert ProbeSpec("net", 64, config, False, pool=True).id != ProbeSpec("net", 64, config, False).id


def test_the_working_set_networks_no_pair_times_are_a_session_group_of_their_own() -> None:
    plan = build_plan(SPACE, 128)
    timed = {pid for _, entries in session_groups(plan) for pid in probes_of(entries)}
    [(name, ids)] = working_sets(plan)
    assert name == WORKING_SETS and not timed & set(ids)
    assert timed | set(ids) == set(plan.probes)
    assert working_sets(build_plan(SPACE, 128, version=3)) == []


def test_a_report_shows_each_entry_s_working_set_and_the_peak_as_load_plus_the_largest(tmp_path) -> None:
    from orchestrator.lut.store import save_lut
    from orchestrator.report.build import write_report
    from tests.test_report import body_rows

    doc = with_working_sets(with_memory(make_lut(SPACE), SPACE))
    page = write_report([save_lut(doc, tmp_path / "luts")]).read_text()
    rows = {row[0]: row for row in body_rows(page, "lut1-entries")}
    assert rows["stem/w16"][-1] == f"{doc['entries']['stem/w16']['memory']['working_bytes'] / 1024:.0f}"
    context = MemoryPredictor(doc, SPACE).predict(SubnetConfig.from_dict(CONTEXT))
    assert f"and peak {context.peak_bytes / MIB:.1f} MiB of memory" in page and "largest working set" in page
