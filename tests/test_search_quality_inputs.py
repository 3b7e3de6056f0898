"""What the search-quality and task-pilot benchmarks keep and take, read as untrusted: a result names
the checkpoint, LUT and task it came from and is redone or refused under others; a task is checked
against its data set; a bad file or option is one sentence and exit code 2; the reference's runs of
a subnet that does not learn end; a refused or held variant does not stop the supernets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmarks import search_quality as sq
from benchmarks import search_quality_store as store
from benchmarks import task_pilot
from benchmarks.search_quality_store import Refused
from benchmarks.search_quality_work import MAX_EXTRA_SEEDS, alone_entry, schedule
from infra.errors import UserError
from infra.files import write_json_atomic
from search.space import load_space
from search.space.sampling import min_config

ROOT = Path(__file__).resolve().parents[1]
TASK = "data cluttered --canvas 48 --pieces 48 --train-images 60 --test-images 20 --search-images 20"


@pytest.fixture(scope="module")
def cluttered(tmp_path_factory) -> Path:
    from search.training.digit_sets import write_cluttered_digits

    data = tmp_path_factory.mktemp("cluttered") / "data"
    write_cluttered_digits(data, 60, 20, 0, canvas=48, pieces=48, search_images=20)
    return data


def invoke(app, *args: str) -> BaseException | None:
    """A section run in this process; what it raised (the CLI turns a UserError into one line, exit 2)."""
    return CliRunner().invoke(app, list(args)).exception


# --- the task -------------------------------------------------------------------------------------


def test_the_task_that_wrote_a_set_is_accepted(cluttered):
    store.check_task(TASK, cluttered)


@pytest.mark.parametrize(("task", "says"), [
    ("data cluttered --canvas 40 --pieces 48 --train-images 60 --test-images 20 --search-images 20", "canvas 40 (the set has 48)"),
    ("data pairs --label number --canvas 48 --pieces 48 --train-images 60 --test-images 20 --search-images 20", "kind 'digit-pairs' (the set has 'cluttered-digits')"),
    ("data cluttered --canvas 48 --pieces 48", "counts {'train': 4000, 'val': 2000, 'search': 2000}"),
])
def test_a_task_that_is_not_the_one_that_wrote_the_set_is_refused_naming_what_differs(cluttered, task, says):
    with pytest.raises(Refused, match=f"--task `{task}` is not the task of .*{says.replace('(', '[(]').replace(')', '[)]')}"):
        store.check_task(task, cluttered)


@pytest.mark.parametrize(("task", "says"), [
    ("data cluttered --bogus 3", "No such option: --bogus"),
    ("data cluttered --canvas abc", "Invalid value for '--canvas'"),
])
def test_a_task_bench_would_refuse_is_refused_naming_the_option(task, says):
    with pytest.raises(Refused, match=rf"^--task '{task}': {says}"):
        store.task_manifest(task)


def test_the_pilot_refuses_to_label_a_set_with_a_task_that_did_not_write_it(cluttered, tmp_path):
    """`train --data <a cluttered set>` with the default --task ("data pairs") recorded the pairs task."""
    raised = invoke(task_pilot.app, "train", "--data", str(cluttered), "--work", str(tmp_path), "--epochs", "1")
    assert isinstance(raised, Refused) and "--task `data pairs` is not the task of" in str(raised)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.json"))


# --- stored results: named, redone or refused -----------------------------------------------------


def test_a_result_made_with_another_checkpoint_is_redone_not_kept(tmp_path):
    path = tmp_path / "strategies" / "longer" / "q35-random-seed0.json"
    now = {"checkpoint_sha256": "b" * 64, "lut": "29def5299199ba8c", "task": TASK}
    write_json_atomic(path, {**now, "checkpoint_sha256": "a" * 64, "candidates": []})
    assert sq.fresh(path, now, "the strategy run", ("candidates",)) is None
    write_json_atomic(path, {**now, "candidates": []})
    assert sq.fresh(path, now, "the strategy run", ("candidates",)) == {**now, "candidates": []}


def test_report_refuses_a_result_of_another_checkpoint_naming_it_and_the_section_that_redoes_it(tmp_path):
    path = tmp_path / "plan.json"
    with pytest.raises(Refused, match=r"plan.json was made with other inputs than this run's \(checkpoint_sha256 aaaaaaaaaaaa \(now bbbbbbbbbbbb\)\); run `found` again"):
        store.refuse_stale({"checkpoint_sha256": "a" * 64, "lut": "x"}, {"checkpoint_sha256": "b" * 64, "lut": "x"}, path, "found")


@pytest.mark.slow
def test_swapping_the_checkpoint_under_a_finished_ranking_redoes_it_and_report_refuses_the_old_one(tmp_path, tiny_checkpoint, digits_dir):
    """The ranking of the longer supernet, then another checkpoint in its place: `ranking` ranks it
    again (its file names the new checkpoint), and a ranking file of the old one is refused."""
    from tests.lut_factory import sized_lut

    work = tmp_path / "work"
    (work / "supernets" / "longer").mkdir(parents=True)
    os.symlink(digits_dir, work / "data")
    lut = tmp_path / "lut.json"
    lut.write_text(json.dumps(sized_lut(load_space("tiny"))))
    config = min_config(load_space("tiny"), 64)
    write_json_atomic(work / "subnets.json", {"subnets": [{"hash": config.hash, "role": "smallest", "config": config.to_dict(), "params": 1, "flops": 1.0}]})
    checkpoint = work / "supernets" / "longer" / "last.pt"
    doc = torch.load(tiny_checkpoint, weights_only=False)
    torch.save(doc, checkpoint)
    args = ["ranking", "--work", str(work), "--lut", str(lut), "--epochs", "1", "--variant", "longer", "--calibrations", "512"]
    assert invoke(sq.app, *args) is None
    first = json.loads((work / "ranking" / "longer.json").read_text())
    doc["history"] = [*doc["history"][:-1], {**doc["history"][-1], "seconds": doc["history"][-1]["seconds"] + 1}]  # another checkpoint, same weights
    torch.save(doc, checkpoint)
    with pytest.raises(Refused, match=r"longer.json was made with other inputs than this run's \(checkpoint_sha256 .*\); run `ranking` again"):
        sq._ranked(work, "longer", store.sha256_of(checkpoint))
    assert invoke(sq.app, *args) is None
    again = json.loads((work / "ranking" / "longer.json").read_text())
    assert first["checkpoint_sha256"] != again["checkpoint_sha256"] == store.sha256_of(checkpoint)


# --- restore: the committed document, read as untrusted --------------------------------------------


def _document(path: Path, subnet: dict | None = None, variants: dict | None = None) -> Path:
    """A document `restore` takes: one reference subnet with one stand-alone run, one ranking."""
    config = {"resolution": 64}
    base = {"hash": "0123456789abcdef", "role": "smallest", "config": config, "params": 1, "flops": 1.0, "alone": [0.5], "seeds": [0],
            "inherited": {"sandwich": 0.4}}
    path.write_text(json.dumps({
        "subnets": [subnet if subnet is not None else base], "found_vs_hand": [], "recipe": {"epochs": 3}, "checkpoint_sha256": "a" * 64,
        "variants": variants if variants is not None else {"sandwich": {"variant": "sandwich", "calibration_images": 512}},
    }))
    return path


def test_restore_writes_a_well_formed_document_s_runs_and_rankings_under_work(tmp_path):
    work = tmp_path / "work"
    written = store.restore(_document(tmp_path / "doc.json"), work, 3, lambda line: None)
    assert written == {"subnets": 1, "runs": 1, "rankings": 1}
    assert (work / "alone" / "0123456789abcdef-seed0-e3.json").exists() and (work / "ranking" / "sandwich.json").exists()


@pytest.mark.parametrize(("subnet", "variants", "says"), [
    ({"hash": "../../escaped", "role": "smallest", "config": {}, "params": 1, "flops": 1.0, "alone": [0.5], "seeds": [0]}, None,
     "reference subnet hash '../../escaped' that is not 16 hexadecimal digits"),
    ({"hash": "0123456789abcdef", "role": "smallest", "config": {}, "params": 1, "flops": 1.0, "alone": [0.5], "seeds": ["../x"]}, None,
     "0123456789abcdef with a seed '../x' that is not a whole number"),
    (None, {"../../escaped": {}}, "ranking '../../escaped' that is not a variant name"),
])
def test_restore_refuses_a_hash_seed_or_ranking_key_that_would_name_a_file_outside_work(tmp_path, subnet, variants, says):
    work = tmp_path / "deep" / "work"
    with pytest.raises(Refused, match=f"doc.json.*{says}"):
        store.restore(_document(tmp_path / "doc.json", subnet, variants), work, 3, lambda line: None)
    assert [p.name for p in tmp_path.rglob("*")] == ["doc.json"]  # nothing written, inside work or out


def test_restore_of_a_subnet_without_its_role_is_one_sentence_naming_it(tmp_path):
    subnet = {"hash": "0123456789abcdef", "config": {}, "params": 1, "flops": 1.0, "alone": [0.5]}
    with pytest.raises(Refused, match="doc.json has a reference subnet 0123456789abcdef that lacks role; restore from"):
        store.restore(_document(tmp_path / "doc.json", subnet), tmp_path / "work", 3, lambda line: None)


def test_restore_of_a_run_that_did_not_learn_without_its_test_accuracy_is_one_sentence_naming_it(tmp_path):
    subnet = {"hash": "0123456789abcdef", "role": "smallest", "config": {}, "params": 1, "flops": 1.0, "alone": [0.5], "seeds": [0],
              "did_not_learn": [{"seed": 1, "rise_epoch": None}]}
    with pytest.raises(Refused, match="doc.json has a reference subnet 0123456789abcdef with a run that did not learn that lacks test; restore from"):
        store.restore(_document(tmp_path / "doc.json", subnet), tmp_path / "work", 3, lambda line: None)
    assert not (tmp_path / "work").exists()


# --- the committed document -----------------------------------------------------------------------


def test_report_writes_this_checkout_s_paths_relative_to_the_repository():
    doc = {"restored": {"source": f"{ROOT}/docs/search_quality.json"}, "runs": [{"selection": f"{ROOT}/runs/search-quality/data/search (2000 images)"}],
           "elsewhere": "/data/digits", "count": 3}
    assert store.relative_to(doc, ROOT) == {
        "restored": {"source": "docs/search_quality.json"}, "runs": [{"selection": "runs/search-quality/data/search (2000 images)"}],
        "elsewhere": "/data/digits", "count": 3,
    }


def test_the_committed_search_quality_document_and_page_name_no_absolute_path():
    import re

    for name in ("search_quality.json", "search_quality.md"):
        text = (ROOT / "docs" / name).read_text()
        assert re.findall(r"(?:^|[\s`(\"])(/[A-Za-z][^\s`\"]*)", text) == [], name


# --- the reference ends ---------------------------------------------------------------------------


def _run(seed: int, learned: bool) -> dict:
    curve = [0.1, 0.5, 0.6, 0.7] if learned else [0.1, 0.1, 0.1, 0.1]
    return {"seed": seed, "test": 0.7 if learned else 0.1, "converged": True, "holdout_curve": curve, "epochs": 4}


def test_a_subnet_whose_runs_do_not_learn_gets_two_seeds_more_at_most_and_is_reported_as_such():
    config = min_config(load_space("tiny"), 64)
    runs = {config.hash: [_run(seed, False) for seed in range(2 + MAX_EXTRA_SEEDS)]}
    assert schedule([config], 2, runs, 0.1) == [(config, 0), (config, 1), (config, 2), (config, 3)]
    assert schedule([config], 2, {config.hash: [_run(s, False) for s in range(10)]}, 0.1)[-1] == (config, 3)  # no seed 4, however many failed
    assert alone_entry(runs[config.hash], 0.1)["gave_up"] is True
    assert alone_entry([_run(0, True), _run(1, False), _run(2, True)], 0.1)["gave_up"] is False


# --- one sentence, exit code 2 ---------------------------------------------------------------------


@pytest.mark.parametrize(("args", "says"), [
    (["alone", "--parts", "0"], "--parts 0: give 1 or more processes"),
    (["alone", "--part", "2", "--parts", "2"], "--part 2 is not one of the 2 parts (0 to 1)"),
    (["ranking", "--calibrations", "abc"], "--calibrations 'abc': give image counts of 1 or more"),
    (["ranking", "--calibrations", "-5"], "--calibrations '-5': give image counts of 1 or more"),
    (["ranking", "--calibrations", "0"], "--calibrations '0': give image counts of 1 or more"),
    (["ranking", "--calibrations", "200"], "--calibrations '200': give multiples of 128"),
    (["strategies", "--part", "-1"], "--part -1 is not one of the 1 parts"),
])
def test_a_bad_option_is_refused_before_any_work(tmp_path, args, says):
    raised = invoke(sq.app, *args, "--work", str(tmp_path / "work"))
    assert isinstance(raised, Refused) and says in str(raised)
    assert not (tmp_path / "work" / "data").exists()


@pytest.mark.parametrize(("name", "text", "says"), [
    ("cut short", '{"variant": "longer", "calibr', "is not valid JSON"),
    ("bogus variant", json.dumps({"variant": "bogus", "calibration_images": 512, "epochs": 1, "seconds": 1, "checkpoint_sha256": "a", "inherited": {}, "flags": []}),
     "ranks variant 'bogus', which the benchmark does not have"),
    ("NaN", '{"variant": "longer", "calibration_images": NaN}', "not a finite number"),
    ("no inherited", json.dumps({"variant": "longer", "calibration_images": 512, "epochs": 1, "seconds": 1, "checkpoint_sha256": "a", "flags": []}), "lacks inherited"),
])
def test_a_ranking_file_report_cannot_use_is_one_sentence_naming_it(tmp_path, name, text, says):
    (tmp_path / "ranking").mkdir()
    (tmp_path / "ranking" / "x.json").write_text(text)
    with pytest.raises(Refused, match=f"x.json.*{says}"):
        sq._ranked(tmp_path, "longer", "a")


def test_a_stand_alone_run_without_its_curve_or_with_a_test_of_nan_is_one_sentence(tmp_path):
    from benchmarks.search_quality_work import alone_runs

    (tmp_path / "alone").mkdir()
    path = tmp_path / "alone" / "x-seed0-e200.json"
    path.write_text(json.dumps({"hash": "x", "seed": 0, "test": 0.7}))
    with pytest.raises(Refused, match="x-seed0-e200.json lacks holdout_curve; delete it to train that run again"):
        alone_runs(tmp_path, 200)
    path.write_text('{"hash": "x", "seed": 0, "test": NaN, "holdout_curve": []}')
    with pytest.raises(Refused, match="x-seed0-e200.json is not valid JSON|not a finite number"):
        alone_runs(tmp_path, 200)


@pytest.mark.parametrize("text", ["{}", None])
def test_page_on_a_document_report_did_not_write_is_one_sentence(tmp_path, text):
    source = tmp_path / "doc.json"
    if text is not None:
        source.write_text(text)
    raised = invoke(sq.app, "page", "--source", str(source), "--out", str(tmp_path / "page.md"))
    assert isinstance(raised, UserError) and str(source) in str(raised) and not (tmp_path / "page.md").exists()


def test_adopt_from_a_folder_that_is_not_a_pilot_s_is_one_sentence(tmp_path, cluttered, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(cluttered, work / "data")
    monkeypatch.setattr(sq, "reference", lambda work, lut: {"subnets": []})
    raised = invoke(sq.app, "adopt", "--pilot", str(tmp_path / "nowhere"), "--work", str(work), "--task", TASK)
    assert isinstance(raised, Refused) and "holds no data/ folder, so it is not a task pilot's --work" in str(raised)


def test_the_pilot_refuses_a_device_torch_does_not_know(tmp_path, cluttered):
    raised = invoke(task_pilot.app, "train", "--data", str(cluttered), "--task", TASK, "--work", str(tmp_path), "--device", "bogus")
    assert isinstance(raised, Refused) and "--device 'bogus' is not a torch device" in str(raised)


def test_the_pilot_report_of_a_run_without_a_name_is_one_sentence_and_no_json(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a-seed0.json").write_text(json.dumps({"seed": 0, "test": 0.5}))
    raised = invoke(task_pilot.app, "report", "--work", str(tmp_path), "--json")
    assert isinstance(raised, Refused) and "a-seed0.json lacks name" in str(raised)


@pytest.mark.slow
def test_a_refusal_is_one_line_on_stderr_and_exit_code_2_with_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.search_quality", "alone", "--parts", "0", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "error: --parts 0: give 1 or more processes" and "Traceback" not in result.stderr


def benchmark(module: str, *args: str, child: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m benchmarks.MODULE ARGS` from the repository root; `child`, where given, is run
    first in the same interpreter (to interrupt what the command calls)."""
    command = [sys.executable, "-m", f"benchmarks.{module}", *args] if not child else [
        sys.executable, "-c", f"import runpy, sys\n{child}\nsys.argv = ['{module}', *sys.argv[1:]]\n"
        f"runpy.run_module('benchmarks.{module}', run_name='__main__', alter_sys=True)", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)


@pytest.mark.slow
@pytest.mark.parametrize(("module", "args", "says"), [
    ("search_quality", ["--x"], "Error: No such option: --x"),
    ("task_pilot", ["--x"], "Error: No such option: --x"),
    ("search_quality", ["strategies", "--seeds", "abc"], "Error: Invalid value for '--seeds': "),
])
def test_a_usage_error_of_a_benchmark_is_its_usage_and_one_line_with_exit_code_2(module, args, says):
    done = benchmark(module, *args)
    lines = done.stderr.strip().splitlines()
    assert (done.returncode, done.stdout) == (2, "") and "Traceback" not in done.stderr
    assert lines[0].startswith(f"Usage: python -m benchmarks.{module} ") and lines[-1].startswith(says)


INTERRUPTED = "def interrupted(*args, **kwargs):\n    raise KeyboardInterrupt\n"


@pytest.mark.slow
def test_ctrl_c_in_a_benchmark_section_ends_with_a_line_and_exit_code_130(tmp_path):
    child = f"{INTERRUPTED}import benchmarks.search_quality_store as store\nstore.read = interrupted"
    done = benchmark("search_quality", "page", "--source", str(tmp_path / "doc.json"), "--out", str(tmp_path / "page.md"), child=child)
    assert (done.returncode, done.stderr.strip()) == (130, "interrupted")


def test_ctrl_c_in_a_plain_benchmark_script_ends_with_a_line_and_exit_code_130():
    done = benchmark("startup", "--repeat", "1", child=f"{INTERRUPTED}import subprocess\nsubprocess.run = interrupted")
    assert (done.returncode, done.stderr.strip()) == (130, "interrupted")


# --- the supernets --------------------------------------------------------------------------------


def test_a_variant_bench_train_refuses_or_another_process_holds_is_skipped_and_the_rest_train(tmp_path, cluttered, monkeypatch):
    from infra.locks import InUseError, run_dir_lock
    from tests.lut_factory import sized_lut

    work = tmp_path / "work"
    work.mkdir()
    os.symlink(cluttered, work / "data")
    lut = tmp_path / "lut.json"
    lut.write_text(json.dumps(sized_lut(load_space("tiny"))))
    trained = []

    def bench_train(command, env):
        out = Path(command[command.index("--out") + 1])
        try:
            with run_dir_lock(out, "the training run"):
                trained.append(out.name)
        except InUseError:
            return subprocess.CompletedProcess(command, 2)
        return subprocess.CompletedProcess(command, 2 if out.name == "warmup" else 0)

    monkeypatch.setattr(sq.subprocess, "run", bench_train)
    (work / "supernets").mkdir()
    with sq.variant_lock(work / "supernets" / "random"):
        result = CliRunner().invoke(sq.app, ["supernets", "--work", str(work), "--task", TASK, "--lut", str(lut), "--epochs", "1", "--variants", "warmup,sandwich,random"])
    assert result.exception is None and trained == ["warmup", "sandwich"]
    assert "skipped: warmup (`bench train` refused it: its message is above); random (another process is training it)" in " ".join(result.output.split())
