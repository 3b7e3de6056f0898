"""Every bad input through the real `bench` entry point: one sentence on stderr naming the problem
and the fix, exit code 2, no traceback, and nothing written."""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from search.nas.lut import content_id
from search.space import load_space
from tests.lut_factory import sized_lut

TINY = load_space("tiny")
HOST = {"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "this CPU", "facts": {}}


def refused(result, says: str) -> str:
    """The run ended as a bad input must: exit 2 and exactly one line, `error: ...` matching `says`."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and re.search(says, lines[0]), lines[0]
    return lines[0]


def written(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def lut_doc(edit: Callable[[dict[str, Any]], Any] = lambda doc: None) -> dict[str, Any]:
    """A whole tiny LUT of device `host`, edited by `edit` and its id recomputed, as an attacker or
    a careless editor could."""
    doc = sized_lut(TINY, device=copy.deepcopy(HOST))
    edit(doc)
    doc["id"] = content_id(doc)
    return doc


def write_lut(folder: Path, doc: dict[str, Any]) -> Path:
    path = folder / f"{doc['id']}.json"
    path.write_text(json.dumps(doc))
    return path


# --- LUT files ---------------------------------------------------------------------------------


def test_a_lut_that_is_not_utf8(bench, tmp_path):
    (tmp_path / "a.json").write_bytes(b'\xff\xfe{"schema": 1}')
    refused(bench("lut", "show", "a.json"), r"^error: LUT file a\.json is not UTF-8 text; give a LUT that `bench profile` wrote")


def test_a_lut_that_is_a_folder(bench, tmp_path):
    (tmp_path / "folder.json").mkdir()
    refused(bench("lut", "show", "folder.json"), r"LUT file folder\.json is a folder, not a file;")
    refused(bench("validate", "--lut", str(tmp_path / "folder.json")), r"is a folder, not a file;")


def test_a_lut_that_cannot_be_read(bench):
    refused(bench("lut", "show", "/proc/self/mem"), r"LUT file /proc/self/mem cannot be read \(")


def test_a_lut_nested_100000_deep(bench, tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    refused(bench("lut", "show", "deep.json"), r"is nested too deeply to be one of ours;")


def test_a_lut_whose_version_has_5000_digits(bench, tmp_path):
    (tmp_path / "big.json").write_text('{"schema": "autovit-bench/lut", "version": 1' + "1" * 5000 + "}")
    refused(bench("lut", "show", "big.json"), r"holds a number that cannot be read")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_lut_with_a_number_json_cannot_mean(bench, tmp_path, number):
    text = json.dumps(lut_doc()).replace('"resolution": 64', f'"resolution": {number}', 1)
    (tmp_path / "nan.json").write_text(text)
    refused(bench("lut", "show", "nan.json"), rf"holds {re.escape(number)}, which is not a finite number;")


def test_a_lut_that_predicts_nothing_for_the_smallest_subnet(bench, tmp_path):
    doc = lut_doc(lambda d: [e.update(latency_ms=-1e9, ci_ms=[-1e9, -1e9]) for e in d["entries"].values()])
    refused(bench("validate", "--lut", str(write_lut(tmp_path, doc))), r"predicts -\d.* ms for the space's smallest subnet, .*rebuild it with `bench profile`")
    assert written(tmp_path) == [f"{doc['id']}.json"]


def test_a_lut_whose_interval_is_reversed(bench, tmp_path):
    doc = lut_doc(lambda d: d["entries"]["overhead"]["ci_ms"].reverse())
    refused(bench("lut", "show", str(write_lut(tmp_path, doc))), r"has an interval .* for 'overhead' whose ends are reversed")


def test_a_lut_whose_device_name_would_climb_out_of_the_store(bench, tmp_path):
    doc = lut_doc(lambda d: d["device"].update(name="../../evil"))
    refused(bench("lut", "show", str(write_lut(tmp_path, doc))), r"names its device '\.\./\.\./evil', which is not a valid name")


def test_a_lut_with_an_empty_transformer_entry(bench, tmp_path):
    key = next(k for k in sized_lut(TINY)["entries"] if k.startswith("transformer/") and "/layer/" in k)
    doc = lut_doc(lambda d: d["entries"][key].update(params={}))
    refused(bench("lut", "plot", str(write_lut(tmp_path, doc))), r"whose kind, stage and parameters do not name it")
    assert not list(tmp_path.glob("*.png"))


def test_markup_in_a_lut_reference_is_printed_as_text(bench):
    assert refused(bench("lut", "show", "[/x]"), "") == "error: LUT file [/x] does not exist; give a LUT that `bench profile` wrote (`bench lut list` shows them)"


def test_lut_plot_does_not_replace_a_file_that_is_not_a_png(bench, tmp_path):
    lut = write_lut(tmp_path, lut_doc())
    (tmp_path / "notes.txt").write_text("mine")
    refused(bench("lut", "plot", str(lut), "--out", "notes.txt"), r"notes\.txt exists and is not a PNG image, so it is not replaced")
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --- devices files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ([1, 2], r"is malformed at top level \(\[1, 2\] is not of type 'object'\)"),
        ({"devices": {"p": "pixel"}}, r"is malformed at devices/p \('pixel' is not of type 'object'\)"),
        (
            {"devices": {"p": {"platform": "android", "backend": "pte", "description": "x", "match": {"model": "Pixel 7"}}}},
            r"is malformed at devices/p/match/model \('Pixel 7' is not of type 'array'\)",
        ),
        ({"devices": {"../../x": {"platform": "host", "backend": "pte", "description": "x"}}}, r"is malformed at devices \('\.\./\.\./x' does not match .*\)"),
    ],
)
def test_a_devices_file_of_the_wrong_shape(bench, tmp_path, doc, says):
    (tmp_path / "devices.json").write_text(json.dumps(doc))
    refused(bench("devices", "--no-connected", "--devices-file", "devices.json"), says + r"; see orchestrator/measure/devices\.json for the shape$")


def test_a_devices_file_that_is_not_utf8_or_is_a_folder(bench, tmp_path):
    (tmp_path / "latin1.json").write_bytes('{"devices": {"caf\xe9": 1}}'.encode("latin-1"))
    refused(bench("devices", "--devices-file", "latin1.json"), r"devices file latin1\.json is not UTF-8 text; fix it")
    (tmp_path / "folder").mkdir()
    refused(bench("devices", "--devices-file", "folder"), r"devices file folder is a folder, not a file")


def test_text_from_a_devices_file_is_shown_literally(bench, tmp_path):
    doc = {"devices": {"lab": {"platform": "host", "backend": "pte", "description": "[/bold]lab \x1b[31mbox"}}}
    (tmp_path / "devices.json").write_text(json.dumps(doc))
    result = bench("devices", "--no-connected", "--devices-file", "devices.json")
    assert result.exit_code == 0 and "[/bold]lab" in result.stdout and "\x1b" not in result.stdout


# --- bench measure ------------------------------------------------------------------------------


def test_models_that_are_not_programs(bench, tmp_path):
    (tmp_path / "text.pte").write_text("hello")
    (tmp_path / "folder.pte").mkdir()
    (tmp_path / "truncated.pte").write_bytes(b"\x3c\x00\x00\x00ET12eh00" + b"\x00" * 20)
    refused(bench("measure", "text.pte"), r"text\.pte is not an ExecuTorch program \(no ExecuTorch flatbuffer header\); export it again")
    refused(bench("measure", "folder.pte"), r"folder\.pte is a folder, not an ExecuTorch program")
    refused(bench("measure", "truncated.pte"), r"truncated\.pte is not an ExecuTorch program this runtime can load")
    refused(bench("measure", "timm:../../x"), r"timm model name '\.\./\.\./x' is not a valid name")
    assert not (tmp_path / "runs").exists()


# --- run directories and resumes ------------------------------------------------------------------


def test_a_malformed_profile_state_on_resume(bench, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "profile.json").write_text("{")
    refused(bench("profile", "--quick", "--out", "run", "--resume"), r"the profile state run/profile\.json is not valid JSON .*; start a new profile with another --out")


def test_a_profile_or_data_set_out_that_is_a_file(bench, tmp_path):
    (tmp_path / "taken").write_text("mine")
    refused(bench("profile", "--quick", "--out", "taken"), r"taken is a file, not a run directory; choose another --out")
    refused(bench("data", "digits", "--out", "taken"), r"taken is a file; give --out a folder")
    assert (tmp_path / "taken").read_text() == "mine"


PATH_OPTIONS = {  # every command's path option, with what the rest of its command line needs to reach it
    "data digits --out": ["data", "digits", "--out", "{}"],
    "data cluttered --out": ["data", "cluttered", "--out", "{}"],
    "train --out": ["train", "--data", "nowhere", "--out", "{}"],
    "search --out": ["search", "--checkpoint", "nowhere.pt", "--lut", "lut.json", "--latency-ms", "5", "--out", "{}"],
    "search --checkpoint": ["search", "--checkpoint", "{}", "--lut", "lut.json", "--latency-ms", "5"],
    "report --out": ["report", "lut.json", "--out", "{}"],
    "profile --out": ["profile", "--quick", "--out", "{}"],
}


@pytest.mark.parametrize("option", PATH_OPTIONS)
def test_a_path_whose_name_is_too_long_for_the_file_system_is_one_line_naming_it(bench, tmp_path, option):
    (tmp_path / "lut.json").write_text(json.dumps(lut_doc()))
    long = "x" * 300
    refused(bench(*(a.format(long) for a in PATH_OPTIONS[option])), rf" {long}[^ ]* has a name too long for the file system; give a shorter one$")
    assert written(tmp_path) == ["lut.json"]


@pytest.mark.parametrize("option", PATH_OPTIONS)
def test_a_path_through_a_symbolic_link_loop_is_one_line_naming_it(bench, tmp_path, option):
    (tmp_path / "lut.json").write_text(json.dumps(lut_doc()))
    os.symlink("loop", tmp_path / "loop")
    refused(bench(*(a.format("loop/inside") for a in PATH_OPTIONS[option])), r" loop/inside[^ ]* goes through a symbolic link loop; remove that link or give another path$")
    assert written(tmp_path) == ["loop", "lut.json"]


def test_validating_an_int8_lut_on_a_float32_device_names_an_int8_device_to_validate_it_on(bench, tmp_path):
    int8 = {**HOST, "name": "host-int8", "backend": "pte-int8", "precision": "int8"}
    lut = write_lut(tmp_path, lut_doc(lambda doc: doc.update(device=int8)))
    refused(bench("validate", "--lut", str(lut), "--device", "host", "--samples", "3"),
            r"prices int8 programs and device host is float32; validate it on an int8 device such as --device host-int8$")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_latency_budget_that_is_not_a_positive_number(bench, value):
    refused(bench("search", "--checkpoint", "x.pt", "--lut", "abc", "--latency-ms", value), rf"--latency-ms must be a finite number above 0 and at most 1e\+06, not {value}")


# --- options given twice, prefixes shared ---------------------------------------------------------


@pytest.mark.parametrize(("args", "says"), [
    (["search", "--checkpoint", "x.pt", "--lut", "29def529", "--latency-ms", "1", "--size-mb", "0.4", "--size-mb", "0.5"],
     r"--size-mb is given twice as a budget held on every device; give it once, or as LUT=MiB for one device"),
    (["search", "--checkpoint", "x.pt", "--lut", "29def529", "--latency-ms", "1", "--latency-ms", "2", "--latency-ms=3"], "--latency-ms is given 3 times, and it takes one budget; give it once"),
    (["search", "--checkpoint", "x.pt", "--lut", "29def529", "--lut", "aa5a9101", "--latency-ms", "1"], "--lut is given twice, and it takes one LUT; give it once"),
    (["measure", "best.pte", "--lut", "29def529", "--latency-ms", "1", "--latency-ms", "2"], "--latency-ms is given twice, and it takes one budget; give it once"),
])
def test_a_budget_option_given_more_than_once_is_refused_not_the_last_one_kept(bench, args, says):
    refused(bench(*args), rf"^error: {says}$")


def test_a_validation_given_one_lut_twice_is_refused_before_it_measures(bench, tmp_path):
    """`--lut X --lut X` recorded two identical runs in the LUT's validation record."""
    from tests.test_hostile_files import COMMITTED

    folder = tmp_path / "luts" / "host" / "tiny"
    folder.mkdir(parents=True)
    shutil.copy(COMMITTED, folder)
    refused(bench("validate", "--lut", "d0fb1865", "--lut", "d0fb186589faa0c4", "--samples", "3"),
            r"^error: --lut d0fb1865 and --lut d0fb186589faa0c4 name one LUT \(d0fb186589faa0c4\); give each LUT once$")
    assert written(tmp_path) == ["luts", "luts/host", "luts/host/tiny", "luts/host/tiny/d0fb186589faa0c4.json"]


def test_an_id_prefix_that_a_stored_lut_shares_with_committed_ones_is_refused_naming_every_candidate(bench, tmp_path):
    """`--lut 0` opened the store's LUT without a word, though the committed 0400031f and 0fd6177a start with 0 too."""
    from search.nas.lut import shipped_luts

    doc = next(d for n in range(200) if (d := lut_doc(lambda doc, n=n: doc.update(notes=f"copy {n}")))["id"].startswith("0"))
    folder = tmp_path / "luts" / "host" / "tiny"
    folder.mkdir(parents=True)
    write_lut(folder, doc)
    refused(bench("lut", "show", "0"), re.escape(
        f"error: LUT id prefix '0' is ambiguous ({doc['id']} under {tmp_path / 'luts'}; 0400031f32bc4c36, 0fd6177a3791c7fe under {shipped_luts()}); "
        "give more characters"
    ))


# --- checkpoints and data -----------------------------------------------------------------------


class Exploit:
    """A pickle that runs a command when loaded with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_unloaded(bench, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "autovit-bench/supernet-checkpoint", "payload": Exploit(marker)}, tmp_path / "evil.pt")
    lut = write_lut(tmp_path, lut_doc())
    refused(bench("search", "--checkpoint", "evil.pt", "--lut", str(lut), "--latency-ms", "1"), r"evil\.pt holds objects other than tensors and plain data \(posix\.system\), so it is not loaded: ")
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "evil.pt", weights_only=True)


def test_a_checkpoint_holding_an_object_says_it_is_not_unpickled_for_safety_and_how_to_save_it_again(bench, tmp_path):
    """torch.save of a checkpoint with its argparse options in it, as many training scripts write one."""
    import argparse

    torch.save({"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=0.1)}, tmp_path / "theirs.pt")
    refused(bench("search", "--checkpoint", "theirs.pt", "--lut", "29def529", "--latency-ms", "1"), re.escape(
        "error: checkpoint theirs.pt holds objects other than tensors and plain data (argparse.Namespace), so it is not loaded: the toolkit "
        "unpickles only those (torch.load with weights_only=True), since unpickling objects could run code; if you trust the file, load it "
        "with weights_only=False and save its state_dict (tensors and plain data) with torch.save; pass the last.pt that `bench train` wrote"
    ))


@pytest.mark.slow
def test_a_checkpoint_written_by_pickle_dump_is_called_a_plain_pickle_in_one_line(tmp_path):
    """It was called "damaged or not a torch file", under a line of torch's warning about its pickle protocol."""
    import subprocess
    import sys

    with open(tmp_path / "plain.pt", "wb") as f:
        pickle.dump({"model": {"w": torch.zeros(2)}}, f)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "bench"), "search", "--checkpoint", "plain.pt", "--lut", "29def529", "--latency-ms", "1", "--out", "o"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert (done.returncode, done.stderr) == (2, (
        "error: checkpoint plain.pt is a plain pickle (written by pickle.dump, not torch.save), so it is not loaded: the toolkit unpickles "
        "only torch.save's tensors and plain data (torch.load with weights_only=True), since a pickle could run code; if you trust the file, "
        "load it with pickle and save its state_dict (tensors and plain data) with torch.save; pass the last.pt that `bench train` wrote\n"
    ))


def test_resuming_training_from_a_checkpoint_that_would_run_code(bench, tmp_path, digits_dir):
    marker = tmp_path / "pwned"
    (tmp_path / "run").mkdir()
    torch.save({"format": "autovit-bench/supernet-checkpoint", "payload": Exploit(marker)}, tmp_path / "run" / "last.pt")
    refused(bench("train", "--data", str(digits_dir), "--out", "run", "--resume", "--resolution", "64"), r"holds objects other than tensors")
    assert not marker.exists()


@pytest.mark.slow
def test_a_corrupt_image_in_the_data(bench, tmp_path, digits_dir):
    data = tmp_path / "data"
    shutil.copytree(digits_dir, data)
    victim = sorted((data / "train" / "3").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:20])
    result = bench("train", "--data", "data", "--out", "run", "--epochs", "1", "--resolution", "64", "--batch-size", "32", "--no-hflip")
    refused(result, rf"image {re.escape(str(victim.relative_to(tmp_path)))} cannot be read \(OSError: .*\); remove or replace it")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_many_unreadable_images_are_counted_in_one_run_and_the_first_few_named(bench, tmp_path, digits_dir):
    data = tmp_path / "data"
    shutil.copytree(digits_dir, data)
    victims = sorted((data / "train" / "3").iterdir())[:3] + sorted((data / "train" / "7").iterdir())[:4]
    for victim in victims:
        victim.write_text("<html>saved as .png</html>")
    result = bench("train", "--data", "data", "--out", "run", "--epochs", "1", "--resolution", "64", "--batch-size", "32", "--no-hflip")
    line = refused(result, r"^error: 7 images in data/train cannot be read: data/train/\d/\S+ \(UnidentifiedImageError: .*\), .* and 2 more; remove or replace them$")
    assert sum(str(v.relative_to(tmp_path)) in line for v in victims) == 5
    assert not (tmp_path / "run" / "last.pt").exists()


def test_an_unreadable_image_met_by_a_loading_process_is_one_line_not_its_traceback(bench, tmp_path, digits_dir):
    data = tmp_path / "data"
    shutil.copytree(digits_dir, data)
    victim = sorted((data / "train" / "5").iterdir())[0]
    victim.write_bytes(b"")
    result = bench("train", "--data", "data", "--out", "run", "--epochs", "1", "--resolution", "64", "--batch-size", "32", "--no-hflip", "--workers", "1")
    refused(result, rf"^error: image {re.escape(str(victim.relative_to(tmp_path)))} cannot be read \(UnidentifiedImageError: .*\); remove or replace it$")


def test_a_data_set_of_one_class_is_refused_before_training(bench, tmp_path, digits_dir):
    (tmp_path / "data").mkdir()
    shutil.copytree(digits_dir / "train" / "4", tmp_path / "data" / "train" / "cat")
    result = bench("train", "--data", "data", "--out", "run", "--epochs", "1", "--resolution", "64")
    refused(result, r"^error: data/train has one class folder \('cat'\); a classifier of one class is right whatever it learns \(100%\), .* at least two$")
    assert not (tmp_path / "run").exists()


def test_a_training_resolution_the_space_does_not_have_is_refused_before_the_data_is_read(bench, tmp_path):
    result = bench("train", "--space", "tiny", "--data", "nowhere", "--out", "run", "--resolution", "32")
    refused(result, r"^error: --resolution 32 is not one of the tiny space's \(64, 128\); pick one of them$")


@pytest.mark.slow
def test_a_malformed_search_state_on_resume(bench, tmp_path, tiny_checkpoint):
    lut = write_lut(tmp_path, lut_doc())
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search_state.json").write_text('{"generation": "three"}')
    result = bench("search", "--checkpoint", str(tiny_checkpoint), "--lut", str(lut), "--latency-ms", "50", "--out", "search", "--resume")
    refused(result, r"the search state search/search_state\.json is not one this toolkit wrote \(.*\); start the search again in another --out")
    assert written(tmp_path / "search") == ["search_state.json"]
