"""A simulated phone answering the benchmark app's requests as the app does on a phone, in the
phone's own time: each model loaded (its load time, the heat of loading), the app's pause after
loading (`cooldown_s`), warm-up rounds, then rounds interleaved in request order, each model run
`burst` times back to back with only the last run timed, until both the request's rounds and its
seconds are done (`orchestrator.measure.timing`, `android_bench/core`'s Bench.kt). Every run takes the
network's quiet time (`world`) times the phone's conditions at that moment (`conditions`), and moves
the phone's time on by as much.

The result is the contract's (`orchestrator/measure/schemas/result.v1.json`), with the phone's facts.
Beside it the simulation keeps a quiet truth (`quiet_ms`): what the benchmark judges a LUT against,
never the product.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from fakes.phones.catalogue import Catalogue
from fakes.phones.conditions import Conditions
from fakes.phones.timed import HostTimed
from fakes.phones.world import Network, World
from orchestrator.export.cache import fingerprint
from orchestrator.measure.contract import summarize

MIB = 2**20
EPOCH = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)  # the phone's clock at its time 0


class PhoneSimulation:
    """One simulated phone: its behaviour file's world and conditions, stepped by the requests it runs."""

    def __init__(self, behaviour: Mapping[str, Any], catalogue: Catalogue | None = None, truth: str = "world") -> None:
        """`truth`: "world", each network priced by the world (exact, instant), or "timed", each program
        timed for real on this machine and scaled by the phone's speed (`timed.HostTimed`)."""
        if truth not in ("world", "timed"):
            raise ValueError(f"truth is 'world' or 'timed', not {truth!r}")
        self.behaviour = behaviour
        self.world = World(behaviour["world"])
        self.timed = HostTimed(self.world.speed) if truth == "timed" else None
        self.conditions = Conditions(behaviour["conditions"], np.random.default_rng(behaviour.get("seed", 0)))
        self.catalogue = catalogue or Catalogue()
        simulation = behaviour.get("simulation", {})
        self.idle_scale = float(simulation.get("idle_scale", 0.0))
        self.rest_per_reading_s = float(simulation.get("rest_per_reading_s", 0.0))
        self._real = time.monotonic()
        self.sessions = 0

    # --- time between sessions --------------------------------------------------------------------

    def idle(self) -> None:
        """The real time since the phone last worked, as rest (`idle_scale` phone seconds per real one)."""
        now = time.monotonic()
        self.conditions.advance((now - self._real) * self.idle_scale, working=False)
        self._real = now

    def rest(self, seconds: float) -> None:
        self.conditions.advance(seconds, working=False)

    def thermal_reading(self) -> None:
        """A runner read the phone's heat: it waits between readings, which the phone spends at rest."""
        self.idle()
        self.rest(self.rest_per_reading_s)

    def android_status(self) -> int:
        self.thermal_reading()
        return self.conditions.android_status()

    def ios_state_now(self) -> str:
        """The iOS thermal state the app beats: the phone's heat now, after the real time since it worked (no rest per reading: beats are the app's, not a runner's waits)."""
        self.idle()
        return self.conditions.ios_state()

    # --- the truth ---------------------------------------------------------------------------------

    def quiet_ms(self, network: Network) -> float:
        """The network's time on this phone with nothing moving its speed (its program's backend, else the phone's)."""
        return self.world.quiet_ms(network.backend or self.behaviour["backend"], network)

    # --- a session ---------------------------------------------------------------------------------

    def run(self, run_dir: Path) -> dict[str, Any]:
        """The result of the request in `run_dir`, as the app writes it."""
        self.idle()
        self.sessions += 1
        request = json.loads((run_dir / "request.json").read_text())
        started = self.conditions.clock.now
        try:
            models = {spec["id"]: self._network(run_dir / spec["file"]) for spec in request["models"]}
            quiet = {name: self.quiet_ms(network) for name, network in models.items()} if self.timed is None else {
                spec["id"]: self.timed.quiet_ms(run_dir / spec["file"], spec["input_shape"]) for spec in request["models"]}
        except LookupError as exc:
            return self._result(request, started, [], error=str(exc))
        loads = {}
        for spec in request["models"]:
            size = fingerprint(run_dir / spec["file"])["artifact_bytes"] / MIB
            loads[spec["id"]] = self.world.load_ms_per_mib * size + 2 * quiet[spec["id"]]
            self._work(loads[spec["id"]])
        self.rest(float(request.get("cooldown_s", 0.0)))
        first = {name: self._timed(ms) for name, ms in quiet.items()}
        measure, warmup = request["measure"], request["warmup"]
        burst = int(measure.get("burst", 1))
        self._rounds(quiet, warmup["runs"], warmup["seconds"], burst, record=False)
        samples = self._rounds(quiet, measure["runs"], measure["seconds"], burst, record=True)
        out = []
        for name, network in models.items():
            memory = self._memory(network)
            out.append({
                "id": name, "load_ms": loads[name], "first_inference_ms": first[name], "warm_load_ms": loads[name] * self.world.warm_load_share,
                "samples_ms": samples[name],
                "summary": summarize(samples[name]),
                **({"memory": {**memory, "method": "simulated phone: its world's memory of the blocks (load summed, peak the load plus the largest working set)"}}
                   if memory else {}),
            })
        self._real = time.monotonic()
        return self._result(request, started, out)

    def _memory(self, network: Network) -> dict[str, Any] | None:
        """The world's memory of the network; none where a timed phone's world has no LUT of its space and resolution."""
        try:
            return self.world.memory(network.backend or self.behaviour["backend"], network)
        except LookupError:
            if self.timed is None:
                raise
            return None

    def _network(self, program: Path) -> Network:
        return self.catalogue.network(program)

    def _timed(self, quiet_ms: float) -> float:
        """One run: its time now, and the phone's time moved on by it."""
        ms = quiet_ms * self.conditions.factor() * self.conditions.jitter()
        self._work(ms)
        return ms

    def _work(self, ms: float) -> None:
        self.conditions.advance(ms / 1e3, working=True)

    def _rounds(self, quiet: Mapping[str, float], runs: int, seconds: float, burst: int, record: bool) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {name: [] for name in quiet}
        start, rounds = self.conditions.clock.now, 0
        while rounds < runs or self.conditions.clock.now - start < seconds:
            for name, ms in quiet.items():
                for _ in range(burst - 1):
                    self._timed(ms)
                timed = self._timed(ms)
                if record:
                    samples[name].append(timed)
            rounds += 1
        return samples

    def _result(self, request: Mapping[str, Any], started: float, models: list[dict[str, Any]], error: str | None = None) -> dict[str, Any]:
        android = self.behaviour["platform"] == "android"
        finished = self.conditions.clock.now
        runtime = {"name": "executorch", "version": "1.5.1", "libraries": {"executorch": "1.5.1", "android": "14"}} if android else {
            "name": "coreml", "version": "17.4.1", "libraries": {"coreml": "3500.32.1", "ios": "17.4.1"}}
        return {
            "schema": "autovit-bench/result", "version": request["version"], "run_id": request["run_id"],
            "status": "error" if error else "ok", "error": error,
            "device": {"platform": self.behaviour["platform"], "model": self.behaviour["model"],
                       "os": "Android 14 (simulated)" if android else "iOS 17.4.1 (simulated)", "cores": 8 if android else 6},
            "runtime": {**runtime, "threads": request["threads"], "compute_units": request["compute_units"]},
            "started_at": (EPOCH + timedelta(seconds=started)).isoformat(), "finished_at": (EPOCH + timedelta(seconds=finished)).isoformat(),
            "rounds": len(models[0]["samples_ms"]) if models else 0, "models": models,
        }
