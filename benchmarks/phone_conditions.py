"""The measurement protocol on simulated phones that drift, throttle and share their cores (issue 84):
per phone and per behaviour (each alone, and all together), over seeds, a LUT profiled through the
real Android protocol (an ADB peer on loopback, `fakes/adb_peer.py`, whose app is the phone's
behaviour file, `fakes/phones`), judged against the phone's quiet truth on unseen subnets; beside it
a naive protocol, what a user's own script does (each network timed alone, one after the other, no
anchor network, no interleaving, no cool-down); and the protocol with each guard off in turn.

The truth is the phone's quiet time of each network (`PhoneSimulation.quiet_ms`): what it costs with
nothing moving the phone's speed. A LUT is judged by its predictions of unseen subnets against their
truths, both relative to the anchor network's (a LUT's figures are at the speed the phone ran its
anchor at while profiled, not the quiet speed), within ±5% and ±10%, Spearman, MAPE and bias.

Raw results go to `--out` (docs/phone_conditions.jsonl by default), one JSON record per line,
appended as each run finishes, so a long run that stops keeps what it did; `--page` writes
docs/phone_conditions.md from that file alone (benchmarks/phone_conditions_page.py). Run: .venv/bin/python -m benchmarks.phone_conditions --help
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autovit_bench import Predictor, Supernet, run_search, search
from fakes.adb_peer import AdbPeer
from fakes.ios_fake import FakePhone, simulated_app
from fakes.phones.behaviour import CONDITIONS, SHIPPED, read_behaviour, varied
from fakes.phones.simulation import PhoneSimulation
from fakes.phones.world import Network
from infra.errors import UserError
from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.lut.runs import ProfileRequest, profile_lut
from orchestrator.lut.settings import FULL, QUICK, Guards, MeasureSettings
from orchestrator.measure.contract import make_request
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.runners.ios.runner import IosRunner
from orchestrator.measure.runners.ios.settings import IosSettings
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.measure.timing import TimingPlan
from orchestrator.plan.builder import build_plan
from search.nas.agreement import figures
from search.nas.lut import Lut
from search.nas.predictor import LatencyPredictor, parts, random_subnet_quantiles
from search.nas.strategies import SearchSettings
from search.space import load_space
from search.space.config import SubnetConfig
from search.space.encoding import decode, random_batch

ROOT = Path(__file__).resolve().parents[1]
SPACE, RESOLUTION = "tiny", 128  # the quick preset's
UNSEEN = 30  # unseen subnets each LUT is judged on


@dataclass
class Simulated:
    """A simulated Android phone behind an ADB peer, and what the toolkit needs to reach it."""

    sim: PhoneSimulation
    device: Device
    phone: ShelfPhone


@contextmanager
def android(behaviour: dict[str, Any], root: Path, cooldown_s: float = 60.0) -> Iterator[Simulated]:
    """The phone of `behaviour` on loopback: its app answers each request by the behaviour file; the
    runner's settings are a real phone's but for waits that only a real clock needs."""
    sim = PhoneSimulation(behaviour)
    with AdbPeer(root / "phone", model=behaviour["model"]) as peer:
        peer.phone.app_behaviour = "simulated phone"
        peer.phone.simulation = sim
        model = behaviour["model"]
        device = Device(f"sim-{behaviour['name']}", "android", behaviour["backend"], {"threads": 1}, behaviour["description"][:80], {"model": [model]})
        settings = AndroidSettings(
            address=peer.address, key_path=root / "adbkey", apk=None, cooldown_s=cooldown_s, poll_interval_s=0.05, heat_poll_s=0.0,
            heat_wait_s=HEAT_WAIT_S,
        )
        yield Simulated(sim, device, ShelfPhone(peer.address, model, "Android 14", "UQ1A.240105.004", AndroidRunner(settings, device.name, (model,))))


# Real seconds a runner waits for a hot phone to cool: each reading rests the simulated phone
# `rest_per_reading_s` (10 s), so this is hours of the phone's rest; then the phone is refused.
HEAT_WAIT_S = 30.0
IOS_POLL_S = 0.02  # the iOS runner's polls and the app's beats, on loopback


@contextmanager
def iphone(behaviour: dict[str, Any], root: Path, cooldown_s: float = 60.0) -> Iterator[Simulated]:
    """The phone of `behaviour` as an iPhone over the in-memory pymobiledevice3 services (`fakes.ios_fake`):
    the resident app answers each request by the behaviour file and beats its heat."""
    sim = PhoneSimulation(behaviour)
    model = behaviour["model"]
    phone = FakePhone(root / "phone", simulated_app(sim), product_type=model, simulation=sim, beat_s=IOS_POLL_S)
    device = Device(f"sim-{behaviour['name']}", "ios", behaviour["backend"], {"compute_units": "all"}, behaviour["description"][:80], {"product_type": [model]})
    settings = IosSettings(cooldown_s=cooldown_s, poll_s=IOS_POLL_S, heat_poll_s=IOS_POLL_S, stale_s=5.0, heat_wait_s=HEAT_WAIT_S)
    runner = IosRunner(settings, device.name, (model,), services=phone, log=lambda _: None)
    try:
        yield Simulated(sim, device, ShelfPhone(phone.udid, model, f"iOS {phone.version}", None, runner))
    finally:
        phone.power_off()


def reach(behaviour: dict[str, Any]):
    """The harness of the behaviour's platform."""
    return iphone if behaviour["platform"] == "ios" else android


def profile(phone: Simulated, work: Path, settings: MeasureSettings = QUICK) -> Lut:
    request = ProfileRequest(phone.device, space=SPACE, resolution=RESOLUTION, settings=settings, out=work / "run", phones=[phone.phone], luts_root=work / "luts")
    doc, _ = profile_lut(request, log=lambda _: None, show_progress=False)
    return doc


def unseen(count: int = UNSEEN, seed: int = 11) -> list[SubnetConfig]:
    """Subnets no LUT measured: random ones of the space at the preset's resolution, seeded."""
    space = load_space(SPACE)
    batch = random_batch(space, count, np.random.default_rng(seed), RESOLUTION)
    return [decode(batch, i, space) for i in range(count)]


def table_ms(entries: dict[str, float], config: SubnetConfig) -> float:
    """A table's prediction of a subnet: the sum of its parts' entries (as `LatencyPredictor` sums
    them, without the LUT's checks: a naive table may predict a subnet at zero or less)."""
    return sum(entries[p.key] for p in parts(config, load_space(SPACE)))


def judged(entries: dict[str, float], context: SubnetConfig, sim: PhoneSimulation, configs: Sequence[SubnetConfig]) -> dict[str, Any]:
    """A table's predictions of `configs` against the phone's quiet truth, each relative to the anchor's."""
    scale = sim.quiet_ms(Network(context)) / table_ms(entries, context)
    predicted = np.array([table_ms(entries, c) * scale for c in configs])
    truth = np.array([sim.quiet_ms(Network(c)) for c in configs])
    return {k: v for k, v in figures(predicted, truth).items() if k != "rmse_ms"}


def lut_entries(lut: Lut) -> dict[str, float]:
    return {key: float(e["latency_ms"]) for key, e in lut.entries.items()}


def naive(behaviour: dict[str, Any], work: Path, timing: TimingPlan = QUICK.timing) -> dict[str, float]:
    """What a user's own script does: each network of the plan timed alone, one after the other
    (warm-up, then its runs, its median), with no anchor network, no interleaving and no cool-down,
    and each entry the difference of its two networks' medians."""
    space = load_space(SPACE)
    plan = build_plan(space, RESOLUTION)
    programs = export_probes(plan.probes, space.name, space.hash, behaviour["backend"], show_progress=False)
    sim = PhoneSimulation(behaviour)
    median = {}
    for probe_id in sorted(plan.probes, key=lambda pid: (pid != plan.anchor, pid)):
        run = work / "naive" / probe_id
        (run / "models").mkdir(parents=True)
        exported = programs[probe_id].path
        program = run / "models" / f"{probe_id}{exported.suffix}"
        (shutil.copytree if exported.is_dir() else shutil.copyfile)(exported, program)
        model = {"id": probe_id, "file": str(program.relative_to(run)), "input_shape": list(plan.probes[probe_id].input_shape)}
        ios = behaviour["platform"] == "ios"
        request = make_request(probe_id, "coreml" if ios else "pte", [model], 0 if ios else 1, "all" if ios else None, timing)
        (run / "request.json").write_text(json.dumps(request))
        median[probe_id] = sim.run(run)["models"][0]["summary"]["median_ms"]
    return {e.key: (median[e.reference] - (median[e.variant] if e.variant else 0.0)) / e.copies for e in plan.entries}


BUDGET_SHARES = (0.25, 0.5, 0.75)  # budgets a quarter, half and three quarters of the space's subnets meet by the LUT
SEARCH = SearchSettings(population=8, generations=3, parents=4)  # the quick path's search (README), scoring on a supernet
SEARCH_LARGEST = SearchSettings(population=40, generations=10, parents=10)  # scoring by parameters costs nothing: search it through


def searched(lut: Lut, sim: PhoneSimulation, supernet: Supernet | None) -> list[dict[str, Any]]:
    """The toolkit's search at each of `BUDGET_SHARES`' budgets on the LUT, and the delivered subnet's
    quiet truth over its budget; also at the LUT's speed (the truth scaled by the LUT's anchor over the
    anchor's quiet truth), which leaves out how far the LUT's scale is from the quiet phone's. With a
    trained supernet, `bench search`'s job scores subnets on its held-out digits; without one, the
    score is the subnet's parameter count, so the search delivers the largest subnet within the
    budget: the one nearest its edge, the hardest case for a budget."""
    predictor = LatencyPredictor(lut, load_space(SPACE))
    context = SubnetConfig.from_dict(lut.context)
    scale = predictor.predict(context) / sim.quiet_ms(Network(context))
    out = []
    for share, budget in zip(BUDGET_SHARES, random_subnet_quantiles(predictor, BUDGET_SHARES)):
        if supernet is not None:
            found = search(supernet, lut=lut.path, latency_ms=float(budget), settings=SEARCH, log=lambda _: None)
        else:
            largest = Predictor(lut)
            found = run_search(largest, lambda config, p=largest: float(p.predict(config).params), float(budget), settings=SEARCH_LARGEST, log=lambda _: None)
        true = sim.quiet_ms(Network(found.best.config))
        out.append({
            "share": share, "budget_ms": float(budget), "predicted_ms": next(iter(found.best.predicted.values()))["latency"], "true_ms": true,
            "over": true / float(budget), "over_at_lut_speed": true * scale / float(budget), "score": found.best.accuracy,
            "searcher": "supernet" if supernet is not None else "params",
        })
    return out


def run_one(
    behaviour: dict[str, Any], work: Path, settings: MeasureSettings = QUICK, off: str | None = None, with_naive: bool = True,
    searches: bool = False, supernet: Supernet | None = None,
) -> list[dict[str, Any]]:
    """The toolkit's protocol (with the guard `off` switched off, if any) on the phone, and, with
    `with_naive`, the naive protocol on the same phone and seed, judged on the toolkit LUT's context.
    A profile the protocol refuses (a phone that never cools, say) is a record of its refusal."""
    start = time.perf_counter()
    head = {"phone": behaviour["name"], "seed": behaviour.get("seed", 0), "conditions": sorted(behaviour["conditions"]),
            "settings": "full" if settings == FULL else "quick", "off": off}
    if off not in (None, "cooldown"):  # the cool-down is the runner's (`cooldown_s`), the rest the profile's
        settings = dataclasses.replace(settings, guards=dataclasses.replace(settings.guards, **{off: False}))
    with reach(behaviour)(behaviour, work, cooldown_s=0.0 if off == "cooldown" else 60.0) as phone:
        try:
            lut = profile(phone, work, settings)
        except UserError as refused:
            return [{**head, "protocol": "toolkit", "refused": str(refused), "phone_s": phone.sim.conditions.clock.now, "wall_s": time.perf_counter() - start}]
        context = SubnetConfig.from_dict(lut.context)
        result = judged(lut_entries(lut), context, phone.sim, unseen())
        phone_seconds = phone.sim.conditions.clock.now
    toolkit = {**head, "protocol": "toolkit", "lut": lut.id, **result, "phone_s": phone_seconds, "wall_s": time.perf_counter() - start}
    if searches:
        toolkit["searches"] = searched(lut, phone.sim, supernet)
    if not with_naive:
        return [toolkit]
    start = time.perf_counter()
    script = {**head, "protocol": "naive", "off": None, **judged(naive(behaviour, work), context, PhoneSimulation(behaviour), unseen()),
              "wall_s": time.perf_counter() - start}
    return [toolkit, script]


GUARDS = ("cooldown", *(f.name for f in dataclasses.fields(Guards)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phone", action="append", help=f"a phone file, or a shipped phone ({', '.join(SHIPPED)}); repeat it (default: every shipped one)")
    parser.add_argument("--only", default=None, help=f"conditions on, comma-separated, of {', '.join(CONDITIONS)} (default: all the file states; 'none': a phone holding still)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds to run, each the phone file's seed plus 0, 1, ...")
    parser.add_argument("--first-seed", type=int, default=0, help="start the seeds this many past the file's (to spread seeds over processes)")
    parser.add_argument("--settings", choices=("quick", "full"), default="quick", help="the profile's measurement settings (the presets')")
    parser.add_argument("--off", action="append", choices=GUARDS, default=[], help="also run the protocol with this guard off (repeat it)")
    parser.add_argument("--guards-off-only", action="store_true", help="run only the --off variants, not the protocol with every guard")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive protocol")
    parser.add_argument("--no-search", action="store_true", help="skip the searches on each toolkit LUT")
    parser.add_argument("--supernet", type=Path, default=None, help="a trained supernet (bench train's last.pt at 128 px) to search with (default: the largest subnet within budget)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "phone_conditions.jsonl", help="the records file, appended to")
    args = parser.parse_args()
    only = None if args.only is None else tuple(c for c in args.only.split(",") if c and c != "none")
    settings = QUICK if args.settings == "quick" else FULL
    supernet = Supernet.load(args.supernet) if args.supernet is not None else None
    for name in args.phone or SHIPPED:
        base = read_behaviour(name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for off in ([] if args.guards_off_only else [None]) + args.off:
                with tempfile.TemporaryDirectory(prefix="phone-conditions-") as work:
                    behaviour = varied(base, only, base["seed"] + seed)
                    for record in run_one(behaviour, Path(work), settings, off, off is None and not args.no_naive, off is None and not args.no_search, supernet):
                        print(json.dumps(record), flush=True)
                        with open(args.out, "a") as file:
                            file.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    run_main(main)
