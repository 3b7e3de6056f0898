"""`bench profile` end to end on a small plan (networks that lower in seconds): real exports, the
real host runner in a child process, attribution, a valid LUT; resume and adaptive re-measurement."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from pathlib import Path

import pytest

from orchestrator.lut.attribution import Tolerance
from orchestrator.lut.profile import Profiler, probes_of, session_groups
from orchestrator.lut.settings import PRESETS, QUICK, Guards
from orchestrator.measure.devices import get_device
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.builder import build_plan
from orchestrator.plan.spec import Plan
from search.nas.lut import read_lut
from search.space import load_space
from tests.conftest import guard_off, private_locks
from tests.lut_factory import stored

# The flow under test times the real host in runs too short to be steady; the disturbance guard has
# a test of its own here, with a session disturbed on purpose.
pytestmark = [pytest.mark.exports, pytest.mark.usefixtures("undisturbed")]

SMALL_KEYS = ("overhead", "stem/w8", "stem/w16", "mbconv/MBConv-1/transition/8->16")
# The sessions are real timings on this machine, whose noise under load would add passes
# (`Guards.noise_rounds`, tests/test_protocol_guards.py): the sessions these tests count must not
# depend on it (the suite on a fresh clone of c6e9a50 found a third pass of the fixed parts).
FAST = dataclasses.replace(
    QUICK, timing=TimingPlan(warmup_runs=2, warmup_s=0.05, runs=20, min_s=0.1), adaptive_sessions=0, per_stage_sessions=False,
    guards=Guards(noise_rounds=False),
)


def small_plan(working_sets: bool = False) -> Plan:
    """The plan's entries `SMALL_KEYS`, with their working-set networks (a session group of their
    own) where `working_sets`, else without them."""
    full = build_plan(load_space("tiny"))
    entries = tuple(e if working_sets else dataclasses.replace(e, working=None) for e in full.entries if e.key in SMALL_KEYS)
    probes = {pid: full.probes[pid] for e in entries for pid in (e.reference, e.variant, e.working) if pid}
    anchor = next(e.reference for e in entries if e.key == "stem/w16")  # any network serves; the context one lowers slowly
    return dataclasses.replace(full, entries=entries, probes=probes, anchor=anchor)


def profiler(run_dir: Path, luts: Path, settings=FAST, working_sets: bool = False) -> Profiler:
    space = load_space("tiny")
    return Profiler(get_device("host"), space, 64, settings, run_dir, luts_root=luts, log=lambda _: None,
                    show_progress=False, plan=small_plan(working_sets))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, export_cache: Path):
    root = tmp_path_factory.mktemp("profile")
    with pytest.MonkeyPatch.context() as mp:  # a module's fixture outlives the test environment the conftest sets
        mp.setenv("BENCH_CACHE", str(private_locks(root / "cache", export_cache)))
        guard_off(mp)
        doc, path = stored(profiler(root / "run", root / "luts", working_sets=True).run())
    return root, doc, path


@pytest.mark.slow
def test_profile_writes_a_valid_lut_with_every_entry_and_its_provenance(finished) -> None:
    root, doc, path = finished
    assert path == root / "luts" / "host" / "tiny" / f"{doc['id']}.json"
    assert read_lut(path).doc == doc
    assert set(doc["entries"]) == set(SMALL_KEYS)
    assert doc["device"]["name"] == "host" and doc["device"]["facts"]["cores"] >= 1
    assert doc["space"] == {"name": "tiny", "hash": load_space("tiny").hash}
    assert doc["method"] == "removal" and doc["resolution"] == 64
    assert "executorch" in doc["runtime_versions"]
    assert doc["measurement"]["export_partitions_max"] == 1
    anchor = doc["measurement"]["anchor"]
    assert anchor["probe"] == small_plan().anchor
    assert set(anchor["session_median_ms"]) == {"fixed-parts", "fixed-parts-pass2", "working-sets", "working-sets-pass2"}


@pytest.mark.slow
def test_entries_carry_median_interval_and_paired_sample_count(finished) -> None:
    _, doc, _ = finished
    for entry in doc["entries"].values():
        lo, hi = entry["ci_ms"]
        assert lo <= entry["latency_ms"] <= hi
        assert entry["samples"] >= FAST.timing.runs
    assert doc["entries"]["overhead"]["latency_ms"] > 0
    assert doc["entries"]["stem/w16"]["latency_ms"] > 0


@pytest.mark.slow
def test_the_store_lists_the_new_lut_from_its_file_alone(finished) -> None:
    from orchestrator.lut.store import list_luts

    root, doc, _ = finished
    assert [r["id"] for r in list_luts(root / "luts").rows] == [doc["id"]]
    assert sorted(p.name for p in (root / "luts").iterdir()) == [doc["device"]["name"]]  # no index file beside the LUTs


@pytest.mark.slow
def test_resume_reuses_finished_sessions_without_measuring_again(finished, monkeypatch) -> None:
    root, doc, _ = finished
    p = profiler(root / "run", root / "luts", working_sets=True)

    def must_not_run(run_dir):
        raise AssertionError(f"re-measured {run_dir}")

    monkeypatch.setattr(p.sessions.runner, "run", must_not_run)
    again, _ = stored(p.run(resume=True))
    assert again["entries"] == doc["entries"]


@pytest.mark.slow
def test_interrupted_profile_keeps_nothing_partial_and_resumes(tmp_path: Path, monkeypatch) -> None:
    p = profiler(tmp_path / "run", tmp_path / "luts")
    real_run = p.sessions.runner.run

    def interrupted(run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(p.sessions.runner, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        p.run()
    assert not (tmp_path / "luts").exists()
    assert json.loads((tmp_path / "run" / "profile.json").read_text())["status"] == "running"
    monkeypatch.setattr(p.sessions.runner, "run", real_run)
    doc, path = stored(profiler(tmp_path / "run", tmp_path / "luts").run(resume=True))
    assert path.exists() and set(doc["entries"]) == set(SMALL_KEYS)


@pytest.mark.slow
def test_starting_over_an_existing_run_needs_resume(finished) -> None:
    root, _, _ = finished
    from infra.errors import UserError

    with pytest.raises(UserError, match="already holds a profile; pass --resume"):
        profiler(root / "run", root / "luts", working_sets=True).run()


def test_sessions_are_scaled_to_the_anchor_speed() -> None:
    from orchestrator.lut.attribution import attribute

    plan = small_plan()
    entry = next(e for e in plan.entries if e.key == "stem/w16")
    fast = {plan.anchor: [1.0] * 5, entry.variant: [0.5] * 5}
    slow = {plan.anchor: [1.2] * 5, entry.variant: [0.6] * 5}
    estimates, _ = attribute([dataclasses.replace(entry, reference=plan.anchor)], [fast, slow], plan.anchor)
    assert estimates["stem/w16"].latency_ms == pytest.approx(0.55)  # both sessions scaled to the anchor's 1.1 ms


@pytest.mark.slow
def test_every_session_group_is_measured_in_two_passes_so_each_entry_has_two_sessions(finished) -> None:
    root, doc, _ = finished
    assert sorted(p.name for p in (root / "run" / "sessions").iterdir()) == ["fixed-parts", "fixed-parts-pass2", "working-sets", "working-sets-pass2"]
    assert {e["sessions"] for e in doc["entries"].values()} == {2}


@pytest.mark.slow
def test_the_lut_records_how_its_intervals_were_made(finished) -> None:
    _, doc, _ = finished
    interval = doc["measurement"]["interval"]
    assert (interval["method"], interval["confidence"], interval["session_spread"]["entries"]) == ("repeat-sessions-v1", 0.95, len(SMALL_KEYS))


@pytest.mark.slow
def test_the_lut_records_how_many_copies_of_a_layer_its_removal_pairs_differed_by(finished) -> None:
    _, doc, _ = finished
    assert doc["measurement"]["layer_copies"] == 2 and doc["measurement"]["plan_version"] == 4


@pytest.mark.slow
def test_the_lut_records_each_entry_s_memory_as_the_host_measured_it(finished) -> None:
    _, doc, _ = finished
    record = doc["measurement"]["memory"]
    assert record["method"].startswith("host: resident set") and record["networks"] >= 2 and 0 <= record["relative_sd"] < 0.05
    overhead = doc["entries"]["overhead"]["memory"]  # the stand-in network's own: the runtime's base, all of it
    assert 0 < overhead["load_bytes"] <= overhead["peak_bytes"]
    assert all(set(e["memory"]) == {"load_bytes", "peak_bytes", "working_bytes"} for e in doc["entries"].values())


@pytest.mark.slow
def test_each_entry_s_load_time_is_its_two_networks_difference_of_load_plus_first_inference_at_the_median_session(finished) -> None:
    """Load time is profiled by removal from what every runner reports (its registration alone:
    `search/nas/constraints/load.py`), as program size is from the exported programs."""
    root, doc, _ = finished
    seen: dict[str, list[float]] = {}
    for session in (root / "run" / "sessions").iterdir():
        for model in json.loads((session / "result.json").read_text())["models"]:
            seen.setdefault(model["id"], []).append(model["load_ms"] + model["first_inference_ms"])
    assert doc["measurement"]["load"]["method"].startswith("each network's load plus first inference")
    for e in small_plan(working_sets=True).entries:
        variant = statistics.median(seen[e.variant]) if e.variant is not None else 0.0
        assert doc["entries"][e.key]["load_ms"] == pytest.approx((statistics.median(seen[e.reference]) - variant) / e.copies)
    assert doc["entries"]["overhead"]["load_ms"] > 0 and doc["measurement"]["size"]["form"] == ".pte"


@pytest.mark.slow
def test_each_entry_s_working_set_is_its_own_network_s_peak_less_its_load_at_the_median_session(finished) -> None:
    root, doc, _ = finished
    plan = small_plan(working_sets=True)
    seen: dict[str, list[int]] = {}
    for session in (root / "run" / "sessions").iterdir():
        for model in json.loads((session / "result.json").read_text())["models"]:
            seen.setdefault(model["id"], []).append(model["memory"]["peak_bytes"] - model["memory"]["load_bytes"])
    for e in plan.entries:
        assert doc["entries"][e.key]["memory"]["working_bytes"] == statistics.median(seen[e.working])
    stems = [doc["entries"][f"stem/w{w}"]["memory"]["working_bytes"] for w in (8, 16)]
    assert doc["entries"]["overhead"]["memory"]["working_bytes"] < stems[0] <= stems[1]  # a wider stem works on more


@pytest.mark.slow
def test_entries_with_wide_intervals_are_measured_again(tmp_path: Path) -> None:
    strict = dataclasses.replace(FAST, adaptive_sessions=1, tolerance=Tolerance(relative=0.0, absolute_ms=0.0))
    doc, _ = stored(profiler(tmp_path / "run", tmp_path / "luts", strict).run())
    assert (tmp_path / "run" / "sessions" / "adaptive-1" / "result.json").exists()
    assert doc["measurement"]["sessions"] == 3  # two passes, then the adaptive one
    assert all(e["samples"] >= 3 * FAST.timing.runs and e["sessions"] == 3 for e in doc["entries"].values())


def steady_times(plan: Plan) -> dict[str, float]:
    """A steady speed for each of the small plan's networks, the anchor (the widest stem) slowest:
    overhead 1.0 ms, stem/w8 0.2, stem/w16 0.4, the transition 0.1."""
    entries = {e.key: e for e in plan.entries}
    return {
        entries["overhead"].reference: 1.0, entries["stem/w8"].reference: 1.2, plan.anchor: 1.4,
        entries["mbconv/MBConv-1/transition/8->16"].reference: 1.3,
    }


def timed_profiler(tmp_path: Path, monkeypatch, ms_of) -> tuple[Profiler, list[str]]:
    """A profiler whose real runner runs every session and whose samples the test then sets, every
    round `ms_of(session, network)`; and the lines it logs."""
    p, logged = profiler(tmp_path / "run", tmp_path / "luts"), []
    p.log = logged.append
    measured = p.sessions.runner.run

    def timed(run_dir: Path) -> dict:
        result = measured(run_dir)
        for model in result["models"]:
            model["samples_ms"] = [ms_of(run_dir.name, model["id"])] * len(model["samples_ms"])
        return result

    monkeypatch.setattr(p.sessions.runner, "run", timed)
    return p, logged


@pytest.mark.slow
def test_entries_a_disturbed_session_made_larger_than_their_network_are_measured_again_once(tmp_path: Path, monkeypatch) -> None:
    """A timer the test controls: every network runs at a steady speed of its own (the real runner
    runs it, the test sets its samples), except in the first pass's session, where one network runs
    50 ms slower, as when another job takes the core. The entry it is the reference of (the
    transition) comes out larger than the whole network; only it is measured again, in a session of
    its own."""
    from orchestrator.lut.disturbance import offending_entries

    monkeypatch.setattr("orchestrator.lut.profile.offending_entries", offending_entries)  # the guard on
    plan = small_plan()
    slowed = next(e.reference for e in plan.entries if e.key == "mbconv/MBConv-1/transition/8->16")
    steady_ms = steady_times(plan)
    p, logged = timed_profiler(tmp_path, monkeypatch, lambda session, net: steady_ms[net] + (50.0 if session == "fixed-parts" and net == slowed else 0.0))
    doc, _ = stored(p.run())
    assert sorted(path.name for path in (tmp_path / "run" / "sessions").iterdir()) == ["disturbed", "fixed-parts", "fixed-parts-pass2"]
    again = [m["id"] for m in json.loads((tmp_path / "run" / "sessions" / "disturbed" / "request.json").read_text())["models"]]
    assert set(again) == {*probes_of([e for e in plan.entries if e.key == "mbconv/MBConv-1/transition/8->16"]), plan.anchor}
    assert [line for line in logged if "disturbed" in line] == [
        "the sessions look disturbed (1 entries (e.g. mbconv/MBConv-1/transition/8->16) are wider than, or larger than, the "
        f"{doc['measurement']['context_latency_ms']:.3g} ms network they were measured in); measuring those entries again"
    ]
    assert {key: e["sessions"] for key, e in doc["entries"].items()} == {
        "overhead": 2, "stem/w8": 2, "stem/w16": 2, "mbconv/MBConv-1/transition/8->16": 3,
    }


@pytest.mark.slow
def test_a_session_slowed_as_a_whole_is_measured_again_and_left_out(tmp_path: Path, monkeypatch) -> None:
    """The same timer, with every network of the second pass's session 1.6x slower, as when another
    job holds the core for all of a short session: its anchor names it, it is measured again under a
    name of its own, and only the new session counts (the LUT names the one it replaced)."""
    from orchestrator.lut.disturbance import slow_sessions

    monkeypatch.setattr("orchestrator.lut.profile.slow_sessions", slow_sessions)  # the guard on
    plan = small_plan()
    steady_ms = steady_times(plan)
    p, logged = timed_profiler(tmp_path, monkeypatch, lambda session, net: steady_ms[net] * (1.6 if session == "fixed-parts-pass2" else 1.0))
    doc, _ = stored(p.run())
    assert sorted(path.name for path in (tmp_path / "run" / "sessions").iterdir()) == ["fixed-parts", "fixed-parts-pass2", "fixed-parts-pass2-again1"]
    assert [line for line in logged if "slower" in line] == ["1 sessions ran over 20% slower than the quickest (other work on the device): measuring them again"]
    assert doc["measurement"]["replaced_sessions"] == ["fixed-parts-pass2"]
    assert sorted(doc["measurement"]["anchor"]["session_median_ms"]) == ["fixed-parts", "fixed-parts-pass2-again1"]
    assert doc["measurement"]["context_latency_ms"] == pytest.approx(steady_ms[plan.anchor])
    assert doc["entries"]["stem/w8"]["latency_ms"] == pytest.approx(steady_ms[next(e for e in plan.entries if e.key == "stem/w8").reference] - 1.0)


@pytest.mark.slow
def test_steady_sessions_are_not_measured_again(tmp_path: Path, monkeypatch) -> None:
    """The same timer without the disturbance: the guard finds nothing, and no session is added."""
    from orchestrator.lut.disturbance import offending_entries

    monkeypatch.setattr("orchestrator.lut.profile.offending_entries", offending_entries)
    steady_ms = steady_times(small_plan())
    p, _ = timed_profiler(tmp_path, monkeypatch, lambda session, net: steady_ms[net])
    doc, _ = stored(p.run())
    assert sorted(path.name for path in (tmp_path / "run" / "sessions").iterdir()) == ["fixed-parts", "fixed-parts-pass2"]
    assert "disturbed" not in doc["measurement"]


@pytest.mark.slow
def test_core_ml_export_of_plan_networks_goes_to_the_cache_once(tmp_path: Path) -> None:
    from orchestrator.export.probes import export_probes

    plan = small_plan()
    stem = next(e for e in plan.entries if e.key == "stem/w8")  # a network of one stem: converted in seconds
    probes = {stem.reference: plan.probes[stem.reference]}
    space = load_space("tiny")
    first = export_probes(probes, "tiny", space.hash, "coreml", workers=2, root=tmp_path, show_progress=False)
    assert all((a.path / "Manifest.json").exists() and a.path.suffix == ".mlpackage" for a in first.values())
    second = export_probes(probes, "tiny", space.hash, "coreml", workers=2, root=tmp_path, show_progress=False)
    assert all(a.cached for a in second.values()) and not any(a.cached for a in first.values())


@pytest.mark.slow
def test_resuming_with_other_measurement_settings_is_refused(finished) -> None:
    root, _, _ = finished
    from infra.errors import UserError

    slower = dataclasses.replace(FAST, timing=TimingPlan(warmup_runs=2, warmup_s=0.05, runs=40, min_s=0.1))
    with pytest.raises(UserError, match=r"holds a profile measured with other settings; resume it with its own options"):
        profiler(root / "run", root / "luts", slower, working_sets=True).run(resume=True)


@pytest.mark.slow
def test_resuming_a_finished_profile_reports_its_lut_and_writes_no_other(finished) -> None:
    root, doc, path = finished
    before = sorted(p.name for p in path.parent.iterdir())
    again, again_path = profiler(root / "run", root / "luts", working_sets=True).run(resume=True)
    assert (again.id, again_path) == (doc["id"], path)
    assert sorted(p.name for p in path.parent.iterdir()) == before


@pytest.mark.slow
def test_a_measured_lut_the_predictor_refuses_is_neither_stored_nor_indexed_and_the_run_not_done(tmp_path: Path, monkeypatch) -> None:
    """Measurements swamped by noise (two jobs timing at once) can sum below zero: such a LUT was
    stored and indexed, then refused by the very next command."""
    from search.nas.lut import LUTError
    from tests.lut_factory import sized_lut

    negative = sized_lut(load_space("tiny"))
    for entry in negative["entries"].values():
        entry.update(latency_ms=-1.0, ci_ms=[-1.05, -0.95])
    monkeypatch.setattr("orchestrator.lut.profile.finish_lut", lambda body: negative)
    with pytest.raises(LUTError, match=rf"^the run in {tmp_path / 'run'} measured LUT {negative['id'][:8]}, which is not stored: LUT {negative['id']} predicts -12 ms for the space's smallest subnet, and a latency cannot be zero or negative; rebuild it with `bench profile`$"):
        profiler(tmp_path / "run", tmp_path / "luts").run()
    assert not (tmp_path / "luts").exists()
    assert json.loads((tmp_path / "run" / "profile.json").read_text())["status"] == "running"


def test_a_profile_run_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    from infra.locks import InUseError, run_dir_lock

    with run_dir_lock(tmp_path / "run", "the profile run"):
        with pytest.raises(InUseError, match=rf"^the profile run {tmp_path / 'run'} is in use by process {os.getpid()}; wait for it"):
            profiler(tmp_path / "run", tmp_path / "luts").run()
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_phones_temperatures_per_session_go_into_the_luts_provenance(tmp_path: Path, monkeypatch) -> None:
    p = profiler(tmp_path / "run", tmp_path / "luts")
    measured = p.sessions.runner.run
    thermal = {"before": {"status": 0, "battery_c": 31.5}, "after": {"status": 1, "battery_c": 34.0}, "throttled": False}
    monkeypatch.setattr(p.sessions.runner, "run", lambda run_dir: {**measured(run_dir), "thermal": thermal})
    doc, _ = stored(p.run())
    assert doc["measurement"]["session_thermal"] == {"fixed-parts": thermal, "fixed-parts-pass2": thermal}


@pytest.mark.slow
def test_an_interrupted_profile_names_the_command_that_resumes_it_and_resumes_through_the_cli(bench, monkeypatch) -> None:
    """`bench profile` through `orchestrator.lut.runs` on the small plan: Ctrl-C in the first session
    keeps the run and prints the command that continues it; that command finishes the LUT."""
    from orchestrator.lut.settings import Preset

    monkeypatch.setattr("orchestrator.lut.runs.build_plan", lambda space, resolution, method, version: small_plan())
    monkeypatch.setitem(PRESETS, "quick", Preset("tiny", 128, FAST))
    monkeypatch.setattr("orchestrator.cli.profile_view.suggested_budget_ms", lambda doc: 1.0)  # a LUT of 4 entries prices no subnet

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("orchestrator.lut.sessions.run_session", interrupted)
        stopped = bench("profile", "--quick", "--resolution", "64", "--out", "run")
    command = "bench profile --device host --space tiny --resolution 64 --method removal --quick --resume --out run"
    assert stopped.exit_code == 130 and "interrupted: 0 finished measurement sessions are kept in run" in stopped.stderr
    assert f"continue with `{command}`" in stopped.stderr.replace("\n", "")
    assert not Path("luts").exists()
    resumed = bench(*command.split()[1:])
    assert resumed.exit_code == 0, resumed.stderr
    [path] = Path("luts/host/tiny").glob("*.json")
    assert f"LUT {read_lut(path).doc['id']} written to {path.resolve()}" in resumed.stdout.replace("\n", "") and "next steps:" in resumed.stdout
    assert set(read_lut(path).doc["entries"]) == set(SMALL_KEYS)


@pytest.mark.slow
def test_profile_json_is_one_document_naming_the_new_lut_its_report_and_verdict_with_progress_on_stderr(bench, monkeypatch) -> None:
    from orchestrator.lut.settings import Preset
    from orchestrator.report.summary import interval_story, verdict

    monkeypatch.setattr("orchestrator.lut.runs.build_plan", lambda space, resolution, method, version: small_plan())
    monkeypatch.setitem(PRESETS, "quick", Preset("tiny", 128, FAST))
    result = bench("profile", "--quick", "--resolution", "64", "--out", "run", "--json")
    assert result.exit_code == 0, result.stderr
    [path] = Path("luts/host/tiny").glob("*.json")
    doc = json.loads(result.stdout)
    assert doc["lut"] == read_lut(path).doc["id"] and doc["path"] == str(path.resolve())
    assert Path(doc["report"]).is_file() and doc["report"].endswith(".report.html")
    assert doc["verdict"] == {"fit": None, "headline": "not validated yet", "why": verdict(None).why}
    assert doc["noise"] == interval_story(read_lut(path))[0]
    assert "plan: 4 entries, 4 networks (tiny, 64 px)" in result.stderr and "session fixed-parts: measuring 4 networks on host" in result.stderr


def test_per_stage_sessions_time_each_removal_pair_among_about_ten_networks() -> None:
    plan = build_plan(load_space("tiny"), 128)
    groups = dict(session_groups(plan))
    assert list(groups) == [
        "fixed-parts", "mbconv-transitions", "transformer-shells", "mbconv-layers",
        "Transformer-1-layers", "Transformer-2-layers", "Transformer-3-layers", "Transformer-4-layers",
    ]
    assert max(len(probes_of(entries)) for entries in groups.values()) <= 17  # the shells: 17 networks since the skeleton is the widest subnet's (plan version 3)
    assert sorted(e.key for entries in groups.values() for e in entries) == sorted(e.key for e in plan.entries)


def test_a_finished_profile_names_the_next_steps_with_the_luts_own_id_report_and_a_budget(tmp_path: Path) -> None:
    from orchestrator.cli.profile_view import next_steps, suggested_budget_ms
    from orchestrator.cli.steps import open_step
    from search.nas.lut import Lut
    from search.nas.predictor import LatencyPredictor
    from search.space.sampling import max_config, min_config
    from tests.lut_factory import sized_lut

    space = load_space("tiny")
    doc = sized_lut(space)
    text = next_steps(Lut.of(doc), "host", tmp_path / "lut.report.html", width=400)  # one line per command
    budget = suggested_budget_ms(Lut.of(doc))
    assert f"bench validate --lut {doc['id'][:8]} --device host --samples 20" in text
    assert open_step(tmp_path / "lut.report.html") in text
    assert f"bench search --checkpoint runs/train-tiny-{doc['resolution']}/last.pt --lut {doc['id'][:8]} --latency-ms {budget:.3g}" in text
    predictor = LatencyPredictor(doc, space)
    assert predictor.predict(min_config(space, doc["resolution"])) < budget < predictor.predict(max_config(space, doc["resolution"]))
