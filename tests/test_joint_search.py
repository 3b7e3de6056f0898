"""One model for several devices: a search held to a budget on each at once (`--budget LUT=MS`),
measured on each device that can be reached, delivered in each device's form."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.nas.budget import BudgetError, Pricer, one_device
from search.nas.lut import Lut
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from search.space.encoding import decode, random_batch
from search.space.sampling import max_config, min_config
from tests.lut_factory import make_lut, sized_lut

FAST = ["--population", "4", "--generations", "2", "--parents", "2", "--coarse-samples", "2000"]


def device(name: str, backend: str, platform: str = "host") -> dict[str, Any]:
    runtime = {"compute_units": "all"} if platform == "ios" else {"threads": 1}
    return {"name": name, "platform": platform, "backend": backend, "runtime": runtime, "description": name, "facts": {}}


def skewed(
    name: str, heavy: str, factor: float = 6.0, resolution: int = 64, backend: str = "pte", platform: str = "host", **extra: Any,
) -> dict[str, Any]:
    """A LUT whose entries of one kind cost `factor` times the sized LUT's: two such LUTs, heavy on
    other kinds, rank subnets differently, as int8 and float32 or a phone and a laptop do."""
    tiny = load_space("tiny")
    sized = sized_lut(tiny, resolution)["entries"]
    latencies = {k: (e["kind"], e["stage"], e["params"], e["latency_ms"]) for k, e in sized.items()}
    scale = {k: factor for k, e in sized.items() if e["kind"].startswith(heavy)}
    return make_lut(tiny, latencies, scale, device=device(name, backend, platform), resolution=resolution, **extra)


def pricer(lut: dict[str, Any], budget_ms: float) -> Pricer:
    return one_device(Lut.of(lut), load_space("tiny"), {"latency": budget_ms})


def joint(*pricers: Pricer) -> Pricer:
    """One pricer holding every device of `pricers` at once, as a search of several budgets holds them."""
    return Pricer([p.only for p in pricers], load_space("tiny"))


def alone(lut: dict[str, Any]) -> float:
    """The least latency budget that admits a subnet of the reachability draws on `lut`'s device alone."""
    least = pricer(lut, 1e5).least()
    return next(iter(least.values()))[0]


def middle(lut: dict[str, Any]) -> float:
    tiny = load_space("tiny")
    p = LatencyPredictor(lut, tiny)
    return (p.predict(min_config(tiny, 64)) + p.predict(max_config(tiny, 64))) / 2


def test_a_subnet_is_feasible_only_within_every_device_s_budget():
    a, b = skewed("phone-a", "mbconv"), skewed("phone-b", "transformer")
    pa, pb = pricer(a, middle(a)), pricer(b, middle(b))
    both = joint(pa, pb)
    batch = random_batch(load_space("tiny"), 2000, np.random.default_rng(0), 64)
    each = [p._priced(batch).feasible for p in (pa, pb)]
    assert np.array_equal(both._priced(batch).feasible, each[0] & each[1])
    assert (each[0] & ~each[1]).any()  # the conjunction bites: some subnets fit phone-a alone
    only_a = decode(batch, int(np.flatnonzero(each[0] & ~each[1])[0]), load_space("tiny"))
    assert pa.feasible(only_a) and not both.feasible(only_a)
    assert both.excess(only_a).endswith(" on phone-b")


@pytest.mark.slow
def test_a_budget_set_no_subnet_meets_at_once_names_every_budget_that_binds_and_the_least_that_admits_a_subnet():
    a, b = skewed("phone-a", "mbconv"), skewed("phone-b", "transformer")
    least = {"phone-a": alone(a), "phone-b": alone(b)}
    with pytest.raises(BudgetError) as refused:
        joint(pricer(a, least["phone-a"]), pricer(b, least["phone-b"])).check_reachable()
    message = str(refused.value)
    assert message.startswith(
        f"no subnet is within every budget at once, though each alone is met (phone-a latency {least['phone-a']:g} ms, phone-b latency {least['phone-b']:g} ms): "
        "given the others' budgets, the least that admits a subnet is phone-a latency "
    )
    binding, given_as, raise_to = re.search(r"; (phone-[ab]) latency binds the least: raise (--latency-ms) to at least ([0-9.]+), the smallest raise", message).groups()
    other = "phone-b" if binding == "phone-a" else "phone-a"
    assert re.search(r"\(or raise one of: --latency-ms to at least [0-9.]+\)$", message)  # every budget that binds is named
    raised = {binding: pricer(a if binding == "phone-a" else b, float(raise_to)), other: pricer(b if binding == "phone-a" else a, least[other])}
    joint(*raised.values()).check_reachable()  # the raise it names admits a subnet


def test_a_refusal_says_which_devices_no_budget_of_their_own_can_help():
    luts = {name: skewed(name, heavy) for name, heavy in (("host", "mbconv"), ("host-int8", "transformer"), ("host-2t", "stem"), ("host-portable", "head"))}
    budgets = {"host": 0.885, "host-int8": 1.0, "host-2t": 0.479, "host-portable": 35.0}
    held = joint(*(pricer(lut, budgets[name]) for name, lut in luts.items()))
    least = {("host", "latency"): (0.5, None), ("host-int8", "latency"): (0.5, None), ("host-2t", "latency"): (0.4, 0.5012), ("host-portable", "latency"): (30.0, 35.1)}
    assert held._together(least, {h.name: h for h in held}) == (
        "no subnet is within every budget at once, though each alone is met (host latency 0.885 ms, host-int8 latency 1 ms, host-2t latency 0.479 ms, host-portable latency 35 ms): "
        "given the others' budgets, the least that admits a subnet is host-2t latency 0.501 ms (budget 0.479), host-portable latency 35.1 ms (budget 35); "
        "no budget of host latency or host-int8 latency alone admits one, since the others' budgets leave no subnet between them; host-portable latency binds the least: "
        "raise --latency-ms to at least 35.1, the smallest raise that admits a subnet (or raise one of: --latency-ms to at least 0.501)"
    )


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def search(bench_cli):
    return lambda *args: bench_cli("search", *args)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and result.stdout == "" and lines[-1].startswith("error:"), result.stdout + result.stderr
    return lines[-1]


@pytest.mark.slow
@pytest.mark.parametrize(("space", "resolution"), [("tiny", 128), ("xxs", 64)])
def test_budgets_of_luts_of_another_space_or_resolution_are_refused_naming_both(tiny_checkpoint, tmp_path, search, space, resolution):
    host = write(tmp_path / "host.json", sized_lut(load_space("tiny"), device=device("host", "pte")))
    other = write(tmp_path / "int8.json", sized_lut(load_space(space), resolution=resolution, device=device("host-int8", "pte-int8")))
    line = one_error_line(search("--checkpoint", str(tiny_checkpoint), "--budget", f"{host}=10", "--budget", f"{other}=10", "--out", str(tmp_path / "o"), "--json"))
    assert re.fullmatch(
        rf"error: LUT \w{{8}} \(host-int8\) is of space '{space}' at {resolution} px, but LUT \w{{8}} \(host\) is of space 'tiny' at 64 px: the budgets of one search "
        r"are priced in one space at one resolution, the supernet's; give LUTs of the checkpoint's space and resolution \(`bench lut list`\)", line,
    ), line
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("args", "says"), [
    (["--budget", "d7f47ca8"], r"--budget 'd7f47ca8' is not LUT=MS"),
    (["--budget", "d7f47ca8=fast"], r"--budget 'd7f47ca8=fast' is not LUT=MS"),
    (["--lut", "d7f47ca8"], r"--lut and --latency-ms go together"),
    ([], r"no budget given"),
])
def test_a_budget_not_given_as_lut_equals_ms_is_one_json_error_line(tiny_checkpoint, tmp_path, search, args, says):
    line = one_error_line(search("--checkpoint", str(tiny_checkpoint), *args, "--out", str(tmp_path / "o"), "--json"))
    assert re.match(rf"error: {says}", line), line


def placeholder_model(static, backend, path: Path, calibration=None, classes=None) -> dict[str, Any]:
    """A model in `backend`'s form that costs no export: a `.pte` of a few bytes, an `.mlpackage`
    folder with a manifest. The real exports are the one-device tests'."""
    if backend.suffix == ".pte":
        path.write_bytes(b"a model")
    else:
        path.mkdir(parents=True, exist_ok=True)
        (path / "Manifest.json").write_text("{}")
    return {}


def placeholder_exports(monkeypatch) -> None:
    """Every candidate and delivered model exported as a placeholder (`placeholder_model`), which
    has no inputs for a deployment manifest to describe (`test_deployment.py` reads real ones)."""
    from orchestrator.searchjob import delivery, finish, measured

    monkeypatch.setattr(measured, "export_model", placeholder_model)
    monkeypatch.setattr(delivery, "export_model", placeholder_model)
    monkeypatch.setattr(finish, "write_manifests", lambda *args: [])


def fake_sessions(monkeypatch, luts: dict[str, dict[str, Any]], slower: float = 1.0) -> None:
    """Host devices that answer a session with each model at `slower` times its own LUT's prediction
    (the anchor at its LUT latency), the models placeholders (`placeholder_exports`)."""
    from orchestrator.searchjob import delivery
    from search.space.config import SubnetConfig
    from tests.run_docs import model_doc, result_doc

    placeholder_exports(monkeypatch)

    def session(dev, run_dir, models, timing, runner=None, **sized):
        predictor = LatencyPredictor(luts[dev.name], load_space("tiny"))
        state = json.loads(next(p / "search_state.json" for p in run_dir.parents if (p / "search_state.json").is_file()).read_text())
        configs = {SubnetConfig.from_dict(c["config"]).hash: SubnetConfig.from_dict(c["config"]) for c in state["evaluated"]}
        out = []
        for name in models:
            ms = 1.0 if name == "anchor" else slower * predictor.predict(configs[name])
            out.append(model_doc(name, [ms] * 5))
        return result_doc(out)

    monkeypatch.setattr(delivery, "run_session", session)
    monkeypatch.setattr(delivery, "export_probes", lambda specs, *args: {k: type("A", (), {"path": Path("anchor.pte")})() for k in specs})


@pytest.mark.slow
def test_a_joint_search_delivers_one_model_within_every_reachable_budget_in_each_device_s_form_and_names_the_one_not_reached(
    tiny_checkpoint, tmp_path, search, monkeypatch,
):
    tiny = load_space("tiny")
    luts = {
        "host": sized_lut(tiny, device=device("host", "pte"), measurement={"context_latency_ms": 1.0}),
        "host-int8": skewed("host-int8", "transformer", backend="pte-int8", measurement={"context_latency_ms": 1.0}),
        "iphone13": sized_lut(tiny, per_mparam_ms=5.0, device=device("iphone13", "coreml", "ios")),
    }
    paths = {name: write(tmp_path / f"{name}.json", lut) for name, lut in luts.items()}
    fake_sessions(monkeypatch, luts)
    budgets = [f"--budget={paths[name]}={middle(lut) * 1.2:.3f}" for name, lut in luts.items()]
    result = search("--checkpoint", str(tiny_checkpoint), *budgets, "--out", str(tmp_path / "s"), "--int8-calibration", "4", "--measure-top", "2", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    devices = doc["devices"]
    assert list(devices) == ["host", "host-int8", "iphone13"]
    for name in ("host", "host-int8"):
        d, latency = devices[name], devices[name]["constraints"]["latency"]
        assert d["judged_by"] == "measured" and d["within_budget"] is True and latency["measured"] == pytest.approx(latency["predicted"])
        assert latency["within"] is True and latency["given_as"] == f"--budget {paths[name]}=MS"
    iphone = devices["iphone13"]
    assert iphone["judged_by"] == "prediction alone" and iphone["within_budget"] is None and iphone["measurement"] is None
    assert iphone["not_measured"] and iphone["constraints"]["latency"]["predicted"] <= iphone["constraints"]["latency"]["budget"]
    assert "not measured on iphone13: " in result.stderr and "iphone13: not measured (" in result.stderr
    files = {name: Path(d["file"]).name for name, d in devices.items()}
    assert files == {"host": "best.pte", "host-int8": "best-pte-int8.pte", "iphone13": "best.mlpackage"}
    assert "one model, a program per device: host: best.pte; host-int8: best-pte-int8.pte; iphone13: best.mlpackage" in result.stderr
    assert devices["host-int8"]["quantization"]["calibration_images"] == 4 and devices["host"]["quantization"] is None
    assert doc["binding"]["device"] in devices and f"the device that binds the delivered model: {doc['binding']['device']} (latency)" in result.stderr
    assert doc["within_budget"] is True


@pytest.mark.slow
def test_a_joint_search_resumes_with_its_budgets_and_refuses_another_naming_them(tiny_checkpoint, tmp_path, search):
    tiny = load_space("tiny")
    a = write(tmp_path / "a.json", sized_lut(tiny, device=device("host", "pte")))
    b = write(tmp_path / "b.json", skewed("host-int8", "transformer"))
    args = ["--checkpoint", str(tiny_checkpoint), "--budget", f"{a}={middle(json.loads(a.read_text())):.3f}", "--out", str(tmp_path / "s"), "--no-measure", "--json", *FAST]
    other = f"{b}={middle(json.loads(b.read_text())):.3f}"
    first = search(*args, "--budget", other)
    assert first.exit_code == 0, first.stderr
    again = search(*args, "--budget", other, "--resume")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["config_hash"] == json.loads(first.stdout)["config_hash"]
    line = one_error_line(search(*args, "--budget", f"{b}=99", "--resume"))
    assert re.search(r"the budgets: LUT \w{8} at latency [0-9.]+ ms; LUT \w{8} at latency [0-9.]+ ms then, .*LUT \w{8} at latency 99 ms now\)", line), line
    assert "--lut" not in line and "--latency-ms" not in line


@pytest.mark.slow
def test_a_joint_search_resumes_with_its_budgets_given_in_another_order(tiny_checkpoint, tmp_path, search):
    tiny = load_space("tiny")
    a = write(tmp_path / "a.json", sized_lut(tiny, device=device("host", "pte")))
    b = write(tmp_path / "b.json", skewed("host-int8", "transformer"))
    first, second = (f"{p}={middle(json.loads(p.read_text())):.3f}" for p in (a, b))
    common = ["--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "s"), "--no-measure", "--json", *FAST]
    assert search(*common, "--budget", first, "--budget", second).exit_code == 0
    again = search(*common, "--budget", second, "--budget", first, "--resume")
    assert again.exit_code == 0, again.stderr


def test_two_joint_searches_of_other_budget_sets_get_folders_of_their_own():
    """Named for the first budget alone, two sets that start alike shared a folder and the second was refused."""
    from orchestrator.cli.search import default_run_dir
    from orchestrator.searchjob.targets import Asked

    host, int8 = Path("luts/host/tiny/d7f47ca8390c6922.json"), Path("luts/host-int8/tiny/4a8e952c1bd29257.json")

    def asked(*pairs: tuple[Path, float], **shared: float) -> Asked:
        return Asked.of([(path, {"latency": (ms, "--budget")}) for path, ms in pairs], {name: (v, name) for name, v in shared.items()})

    assert default_run_dir(asked((host, 0.885))) == Path("runs/search-tiny-d7f47ca8390c6922-0.885ms")
    assert default_run_dir(asked((host, 0.885), (int8, 1.0))) == Path("runs/search-tiny-d7f47ca8390c6922-0.885ms+4a8e952c-1ms")
    assert default_run_dir(asked((host, 0.885), (int8, 1.2))) != default_run_dir(asked((host, 0.885), (int8, 1.0)))
    assert default_run_dir(asked((host, 0.885), memory=9.0)) == Path("runs/search-tiny-d7f47ca8390c6922-0.885ms+memory-9MiB")


# Issue 83, finding 15: one --memory-mb and one --size-mb held on every device, where a user has a
# RAM and an app-size budget per phone (and the float32 .pte nobody ships bound the size limit).


def sized_luts(tmp_path: Path) -> tuple[Path, Path]:
    """A float32 LUT and an int8 one of the same space, each with memory and program sizes (the int8 program a quarter of the float32's)."""
    from tests.lut_factory import with_memory, with_size

    tiny = load_space("tiny")
    paths = []
    for name, backend, per_param in (("host", "pte", 4.0), ("host-int8", "pte-int8", 1.0)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(with_size(with_memory(sized_lut(tiny, device=device(name, backend)), tiny), tiny, bytes_per_param=per_param)))
        paths.append(path)
    return paths[0], paths[1]


def targets_of(asked: Any, checkpoint: Path) -> Any:
    from orchestrator.searchjob.targets import Targets
    from search.training.checkpoint import checkpoint_space, load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    return Targets(asked, ckpt, *checkpoint_space(ckpt, None))


@pytest.mark.slow
def test_a_size_budget_given_for_one_lut_is_held_on_that_device_alone(tiny_checkpoint, tmp_path):
    from orchestrator.cli.search import asked_budgets

    f32, i8 = sized_luts(tmp_path)
    asked = asked_budgets(None, None, [f"{f32}=1e5", f"{i8}=1e5"], {"size": [f"{i8}=0.1"], "memory": None, "params": None})
    targets = targets_of(asked, tiny_checkpoint)
    assert "size" not in targets["host"].held.limits and asked.shared == ()
    limit = targets["host-int8"].held.limits["size"]
    assert (limit.value, limit.given_as) == (0.1, f"--size-mb {i8}=MiB")
    largest = max_config(load_space("tiny"), 64)
    assert targets["host"].held.point("size", largest) > 0.1 and targets.pricer.excess(largest) == (
        f"predicted at {targets['host-int8'].held.point('size', largest):.3g} MiB, over the 0.1 MiB program size budget on host-int8"
    )


@pytest.mark.slow
def test_a_devices_own_budget_wins_there_over_one_held_on_every_device(tiny_checkpoint, tmp_path):
    from orchestrator.cli.search import asked_budgets

    f32, i8 = sized_luts(tmp_path)
    asked = asked_budgets(None, None, [f"{f32}=1e5", f"{i8}=1e5"], {"memory": ["500", f"{f32}=900"], "size": None, "params": None})
    targets = targets_of(asked, tiny_checkpoint)
    assert targets["host"].held.limits["memory"].value == 900 and targets["host"].held.limits["memory"].given_as == f"--memory-mb {f32}=MiB"
    assert targets["host-int8"].held.limits["memory"].value == 500 and targets["host-int8"].held.limits["memory"].given_as == "--memory-mb"


@pytest.mark.parametrize(("memory", "says"), [
    (["9.1", "9.5"], r"--memory-mb is given twice as a budget held on every device; give it once, or as LUT=MiB for one device"),
    (["LUT=9.1", "LUT=9.5"], r"--memory-mb is given twice for LUT .*host-int8.json's device; give it once per device"),
    (["0400031f=9.1"], r"--memory-mb '0400031f=9.1' names 0400031f, which is the LUT of no device of this search; name a LUT given with --lut or --budget"),
    (["LUT=many"], r"--memory-mb .*host-int8.json=MiB must be a finite number above 0 MiB"),
])
def test_a_per_device_budget_that_does_not_fit_the_devices_is_refused_in_one_sentence(tmp_path, memory, says):
    from infra.errors import UserError
    from orchestrator.cli.search import asked_budgets

    f32, i8 = sized_luts(tmp_path)
    with pytest.raises(UserError, match=says):
        asked_budgets(None, None, [f"{f32}=1e5", f"{i8}=1e5"], {"memory": [m.replace("LUT", str(i8)) for m in memory], "size": None, "params": None})
