"""A run's result as the code reads it: typed, from the document the contract checked
(`orchestrator.measure.contract.check_result`), as ExecuTorch's devtools parse a run once into
`PerfData`. The document stays what is written to a run directory and read back on resume; every
reader of a run's figures (medians, samples, load time, memory) reads them here, so their names
live in one place. It sits in `search` because a constraint reads its measured figure from a
model's run (`search.nas.constraints.Observed`), and `search` never imports the orchestrator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ModelRun:
    """One model of a session: its load, first inference and warm reopen apart from its steady state, every
    round's time, the summary of the steady rounds (`contract.summarize`) and its memory where the
    runner measured it."""

    id: str
    load_ms: float
    first_inference_ms: float
    samples_ms: tuple[float, ...]
    summary: Mapping[str, Any]
    memory: Mapping[str, Any] | None  # load_bytes, peak_bytes, method (result.v1.json), as the runner gave them
    warm_load_ms: float | None = None  # a second open once the first has run; None where the runner measured none

    @property
    def median_ms(self) -> float:
        return float(self.summary["median_ms"])

    @classmethod
    def timed(cls, median_ms: float, memory: Mapping[str, Any] | None = None, load_ms: float = 1.0, first_inference_ms: float = 1.0) -> ModelRun:
        """A run known only by its figures (a model timed elsewhere, a test's): one round at its median."""
        return cls("model", load_ms, first_inference_ms, (median_ms,), MappingProxyType({"median_ms": median_ms}), None if memory is None else MappingProxyType(dict(memory)))


@dataclass(frozen=True)
class RunResult:
    session: str  # the last part of the run id (`<run>/<session>`)
    rounds: int
    steady_rounds: tuple[int, ...]
    models: Mapping[str, ModelRun]  # by id, in the result's order
    device: Mapping[str, Any]
    runtime: Mapping[str, Any]
    doc: Mapping[str, Any]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> RunResult:
        """The checked document's reading (its summaries are the contract's, of its steady rounds)."""
        models = {}
        for m in doc["models"]:
            memory = m.get("memory")
            models[m["id"]] = ModelRun(
                m["id"], float(m["load_ms"]), float(m["first_inference_ms"]), tuple(float(x) for x in m["samples_ms"]), MappingProxyType(dict(m["summary"])),
                MappingProxyType(dict(memory)) if memory is not None else None, float(m["warm_load_ms"]) if "warm_load_ms" in m else None,
            )
        return cls(
            session_of(doc), int(doc["rounds"]), tuple(int(i) for i in doc.get("steady_rounds", range(doc["rounds"]))),
            MappingProxyType(models), MappingProxyType(dict(doc.get("device", {}))), MappingProxyType(dict(doc.get("runtime", {}))), doc,
        )

    def medians_ms(self) -> dict[str, float]:
        return {mid: m.median_ms for mid, m in self.models.items()}

    def memory(self) -> dict[str, dict[str, Any] | None]:
        """Each model's memory as the result records it (None where its runner measured none)."""
        return {mid: dict(m.memory) if m.memory is not None else None for mid, m in self.models.items()}

    def samples(self, steady: bool = True) -> dict[str, list[float]]:
        """Each model's samples of the steady rounds, or of all of them (`steady` off)."""
        return {mid: [m.samples_ms[i] for i in self.steady_rounds] if steady else list(m.samples_ms) for mid, m in self.models.items()}

    def facts(self) -> dict[str, Any]:
        """The device facts a LUT or a validation records: the device's, with the runtime's."""
        return {**self.device, "runtime": dict(self.runtime)}


def session_of(doc: Mapping[str, Any]) -> str:
    """The session a result belongs to, without reading its models: the last part of its run id."""
    return str(doc["run_id"]).rsplit("/", 1)[-1]


def read_all(docs: Sequence[Mapping[str, Any]]) -> list[RunResult]:
    return [RunResult.of(d) for d in docs]
