"""One model for several devices: a search held to a budget on each at once (`--budget LUT=MS`),
measured on each device that can be reached, delivered in each device's form."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.nas.budget import BudgetError, Pricer, make_budget
from search.nas.joint import JointPricer
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
    tiny = load_space("tiny")
    return Pricer(LatencyPredictor(lut, tiny), tiny, make_budget(budget_ms, None, None))


def middle(lut: dict[str, Any]) -> float:
    tiny = load_space("tiny")
    p = LatencyPredictor(lut, tiny)
    return (p.predict(min_config(tiny, 64)) + p.predict(max_config(tiny, 64))) / 2


def test_a_subnet_is_feasible_only_within_every_device_s_budget():
    a, b = skewed("phone-a", "mbconv"), skewed("phone-b", "transformer")
    joint = JointPricer({"phone-a": pricer(a, middle(a)), "phone-b": pricer(b, middle(b))})
    batch = random_batch(load_space("tiny"), 2000, np.random.default_rng(0), 64)
    each = [p._priced(batch).feasible for p in joint.pricers.values()]
    assert np.array_equal(joint._priced(batch).feasible, each[0] & each[1])
    assert (each[0] & ~each[1]).any()  # the conjunction bites: some subnets fit phone-a alone
    only_a = decode(batch, int(np.flatnonzero(each[0] & ~each[1])[0]), load_space("tiny"))
    assert joint.pricers["phone-a"].feasible(only_a) and not joint.feasible(only_a)
    assert joint.excess(only_a).endswith(" on phone-b")


def test_a_budget_set_no_subnet_meets_at_once_names_the_device_that_binds_and_the_least_budget_there():
    a, b = skewed("phone-a", "mbconv"), skewed("phone-b", "transformer")
    alone = {name: pricer(lut, 1.0).least_budget() for name, lut in (("phone-a", a), ("phone-b", b))}
    joint = JointPricer({"phone-a": pricer(a, alone["phone-a"]), "phone-b": pricer(b, alone["phone-b"])})
    with pytest.raises(BudgetError) as refused:
        joint.check_reachable()
    message = str(refused.value)
    assert message.startswith(f"no subnet is within every device's budget at once, though each alone is met (phone-a {alone['phone-a']:g} ms, phone-b {alone['phone-b']:g} ms)")
    binding, least = re.search(r"; (phone-[ab]) binds: raise its budget to at least ([0-9.]+) ", message).groups()
    raised = {"phone-a": pricer(a, alone["phone-a"]), "phone-b": pricer(b, alone["phone-b"])}
    raised[binding] = pricer(a if binding == "phone-a" else b, float(least))
    JointPricer(raised).check_reachable()


def test_a_refusal_says_which_devices_no_budget_of_their_own_can_help():
    from search.nas.joint import needs_sentence

    least = {"host": None, "host-int8": None, "host-2t": 0.5012, "host-portable": 35.1}
    budgets = {"host": 0.885, "host-int8": 1.0, "host-2t": 0.479, "host-portable": 35.0}
    assert needs_sentence(least, budgets) == (
        "given the others' budgets, the least that admits a subnet is host-2t 0.501 ms (budget 0.479), host-portable 35.1 ms (budget 35); "
        "no budget of host or host-int8 alone admits one, since the others' budgets leave no subnet between them"
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
    from orchestrator.measure.contract import summarize
    from orchestrator.searchjob import delivery
    from search.space.config import SubnetConfig

    placeholder_exports(monkeypatch)

    def session(dev, run_dir, models, timing, runner=None, **sized):
        predictor = LatencyPredictor(luts[dev.name], load_space("tiny"))
        state = json.loads(next(p / "search_state.json" for p in run_dir.parents if (p / "search_state.json").is_file()).read_text())
        configs = {SubnetConfig.from_dict(c["config"]).hash: SubnetConfig.from_dict(c["config"]) for c in state["evaluated"]}
        out = []
        for name in models:
            ms = 1.0 if name == "anchor" else slower * predictor.predict(configs[name])
            out.append({"id": name, "samples_ms": [ms] * 5, "summary": summarize([ms] * 5)})
        return {"device": {"platform": "host"}, "steady_rounds": list(range(5)), "models": out}

    monkeypatch.setattr(delivery, "run_session", session)
    monkeypatch.setattr(delivery, "export_probes", lambda specs, *args: {k: type("A", (), {"path": Path("anchor.pte")})() for k in specs})


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
        d = devices[name]
        assert d["judged_by"] == "measured" and d["within_budget"] is True and d["measured_ms_at_lut_speed"] == pytest.approx(d["predicted_ms"])
    iphone = devices["iphone13"]
    assert iphone["judged_by"] == "prediction alone" and iphone["within_budget"] is None and iphone["measurement"] is None
    assert iphone["not_measured"] and iphone["predicted_ms"] <= iphone["budget"]["latency_ms"]
    assert "not measured on iphone13: " in result.stderr and "iphone13: not measured (" in result.stderr
    files = {name: Path(d["file"]).name for name, d in devices.items()}
    assert files == {"host": "best.pte", "host-int8": "best-pte-int8.pte", "iphone13": "best.mlpackage"}
    assert "one model, a program per device: host: best.pte; host-int8: best-pte-int8.pte; iphone13: best.mlpackage" in result.stderr
    assert devices["host-int8"]["quantization"]["calibration_images"] == 4 and devices["host"]["quantization"] is None
    assert doc["binding_device"] in devices and f"the device that binds the delivered model: {doc['binding_device']}" in result.stderr
    assert doc["within_budget"] is True


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
    assert "the other devices' budgets and their calibrations (--budget): LUT " in line and " at 99.0 ms now" in line


def test_two_joint_searches_of_other_budget_sets_get_folders_of_their_own():
    """Named for the first budget alone, two sets that start alike shared a folder and the second was refused."""
    from orchestrator.cli.search import default_run_dir

    host, int8 = Path("luts/host/tiny/d7f47ca8390c6922.json"), Path("luts/host-int8/tiny/4a8e952c1bd29257.json")
    assert default_run_dir([(host, 0.885)]) == Path("runs/search-tiny-d7f47ca8390c6922-0.885ms")
    assert default_run_dir([(host, 0.885), (int8, 1.0)]) == Path("runs/search-tiny-d7f47ca8390c6922-0.885ms+4a8e952c-1ms")
    assert default_run_dir([(host, 0.885), (int8, 1.2)]) != default_run_dir([(host, 0.885), (int8, 1.0)])
