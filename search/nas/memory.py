"""The memory predictor: a subnet's memory on a device, from the memory its LUT's entries record.

`load_bytes` (what loading the model adds: weights, their packed copies, planned buffers) is a sum
over the subnet's entries (`search.nas.predictor.parts`), as latency is: weights add up. `peak_bytes`
(the most memory while it loads and runs) is that load plus the largest working set of any one of
its parts, each measured on a network that shows it (`working_bytes`, plan version 4): the runtime
plans a network's activations, and XNNPACK its workspace, so that one part's working memory is
reused by the next, and the peak is where the largest one runs, not a sum (measured: docs/memory.md).
Each working set is measured on the narrowest prefix, so the peak adds what the network's largest
activations hold beyond the narrowest prefix's: the outputs at the stem's resolution (the stem's,
and each MBConv stage's before the first that strides), each its extra channels over the narrowest
choice at that resolution, 4 bytes an element (`EarlyOutputs`). The measured peaks of float32 and
int8 programs, tiny and XXS, grew by about that much with those widths (docs/memory.md).
A LUT profiled before version 4 has no working sets, and its peak is the sum of its entries' peak
differences, as it was (their removal differences telescope to the peak of the widest skeleton). How
well either holds is what `bench validate` reports for memory, and `benchmarks/memory.py` on unseen
subnets; the interval is calibrated on the LUT's latest validation where it measured memory, as
latency's is (`search.nas.calibration`).

A LUT profiled before memory was measured, by a runner that measures none, by the isolated method
or by transfer, records none: asking it for memory is an error naming how to get a LUT that has it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from search.nas.calibration import Calibration, calibrated
from search.nas.lut import Lut, LUTError, as_lut, check_space, entry_key
from search.nas.predictor import missing_entries, parts
from search.space import SearchSpace
from search.space.additive import AdditiveTable, PartValue, least_total
from search.space.config import SubnetConfig, validate
from search.space.encoding import ConfigBatch, decode
from search.space.largest import largest_part, least_sum_and_largest

MIB = 2**20
EARLY_ELEMENT_BYTES = 4  # a float32 element: what the peaks grew by per extra output element at the stem's resolution, in float32 and int8 programs alike
Z = 1.959963984540054  # the two-sided 95% normal quantile
KINDS = ("load_bytes", "peak_bytes")
MIN_VALIDATED = 3  # validated subnets with memory a calibration needs
OFF_BY = 3.0  # a LUT's anchor measured at a third of or three times its predicted memory ran on another kind of device than the LUT's


class Reanchored(NamedTuple):
    """A LUT's memory as this machine has it: the LUT's anchor network (its context network) measured
    here, over what the LUT predicts for it, per kind. A host LUT profiled on another CPU predicts
    that CPU's memory: XNNPACK packs weights and sizes its workspace for the CPU it runs on (the Intel
    Xeon's quick LUTs on AMD EPYC VMs: peaks measured 9-16% above their predictions on one, and a
    search held to a RAM budget by them delivered a model over it; 0-5% on another), as its
    milliseconds are that CPU's; latency is rescaled by the anchor's speed, and memory by the
    anchor's memory."""

    load: float  # measured here / predicted, the anchor's load
    peak: float  # measured here / predicted, the anchor's peak
    cpu: str  # the CPU it was measured on

    def to_dict(self) -> dict[str, float | str]:
        return self._asdict()

    @classmethod
    def of(cls, doc: Any) -> Reanchored:
        """From a run folder's record (a file anyone may edit): two factors within `OFF_BY` of 1 and a CPU's name."""
        if not isinstance(doc, dict) or not isinstance(doc.get("cpu"), str) or not all(
            isinstance(doc.get(k), (int, float)) and not isinstance(doc.get(k), bool) and 1 / OFF_BY <= doc[k] <= OFF_BY for k in ("load", "peak")
        ):
            raise ValueError(f"not a memory re-anchoring (load and peak factors within {OFF_BY:g}x of 1, and a cpu): {doc!r}")
        return cls(float(doc["load"]), float(doc["peak"]), doc["cpu"])


class Memory(NamedTuple):
    load_bytes: float
    peak_bytes: float

    @classmethod
    def of(cls, measured: dict[str, Any]) -> Memory:
        """A model's memory as a runner reports it (`models[].memory` of the result contract)."""
        return cls(measured["load_bytes"], measured["peak_bytes"])

    def to_dict(self) -> dict[str, float]:
        return {"load_mib": self.load_bytes / MIB, "peak_mib": self.peak_bytes / MIB}


def no_memory(lut: Lut) -> str:
    """Why a LUT has no memory and how to get one that has, in one sentence's worth."""
    why = {"transfer": "a transfer LUT scales latency only", "isolated": "its blocks were measured alone"}.get(lut.method, "it was profiled before memory was measured, or its device's runner measures none")
    return f"LUT {lut.id} records no memory ({why}); profile the device with `bench profile --device {lut.device.name}` for a LUT that does"


def has_working_sets(lut: Lut) -> bool:
    """Whether every entry records the working set of its own network (plan version 4)."""
    return lut.memory is not None and all("working_bytes" in e["memory"] for e in lut.entries.values())


def memory_words(lut: Lut) -> str:
    """How a LUT's memory was measured, in words, or why it has none."""
    if (record := lut.memory) is None:
        return no_memory(lut)
    peak = ("the peak as the load plus the largest working set of any one part, each measured on a network that shows it, plus what "
            "the outputs at the stem's resolution hold beyond the narrowest prefix's" if has_working_sets(lut)
            else "the peak as the sum of the entries' peak by removal")
    return (f"each entry's load by removal, as its latency, and {peak} ({record['method']}; a network's peak moved "
            f"{record['relative_sd']:.2%} from one session to the next)")


def memory_record(predicted: Sequence[Memory], measured: Sequence[Memory], method: str) -> dict[str, Any]:
    """A validation's memory record: per kind (`load`, `peak`), the predictions' agreement with the
    measurements (`search.nas.agreement.figures`, the error in MiB), and how the runner measured them."""
    from search.nas.agreement import figures

    record: dict[str, Any] = {"method": method}
    for kind, field in zip(("load", "peak"), KINDS):
        got = figures(np.array([getattr(p, field) for p in predicted]), np.array([getattr(m, field) for m in measured], dtype=float))
        record[kind] = {**{k: v for k, v in got.items() if k != "rmse_ms"}, "rmse_mib": got["rmse_ms"] / MIB}
    return record


class EarlyOutputs(NamedTuple):
    """The outputs at the stem's resolution (the stem's, then each MBConv stage's up to the first
    that strides): the width choices of each (`widths`), and what each choice holds beyond the
    narrowest, at `EARLY_ELEMENT_BYTES` an element (`extra`, by choice index)."""

    widths: tuple[tuple[int, ...], ...]
    extra: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, space: SearchSpace, resolution: int) -> EarlyOutputs:
        side = -(-resolution // space.stem.stride)
        widths = [space.stem.width]
        for stage in space.mbconv:
            if stage.stride != 1:
                break
            widths.append(stage.width)
        return cls(tuple(widths), tuple(np.array([(w - min(ws)) * side * side * EARLY_ELEMENT_BYTES for w in ws], dtype=float) for ws in widths))

    def bytes(self, config: SubnetConfig) -> float:
        chosen = [config.stem, *(stage.width for stage in config.mbconv[: len(self.widths) - 1])]
        return float(sum(extra[ws.index(w)] for ws, extra, w in zip(self.widths, self.extra, chosen)))

    def bytes_batch(self, b: ConfigBatch) -> np.ndarray:
        total = self.extra[0][b.stem]
        for i, extra in enumerate(self.extra[1:]):
            total = total + extra[b.mb_width[:, i]]
        return total

    def choices(self, space: SearchSpace) -> Iterator[tuple[SearchSpace, float]]:
        """The space narrowed to each combination of these widths, with what that combination adds."""
        for picks in itertools.product(*(range(len(ws)) for ws in self.widths)):
            stem = replace(space.stem, width=(space.stem.width[picks[0]],))
            stages = tuple(replace(st, width=(st.width[picks[i + 1]],)) if i + 1 < len(picks) else st for i, st in enumerate(space.mbconv))
            yield replace(space, stem=stem, mbconv=stages), float(sum(e[k] for e, k in zip(self.extra, picks)))


class MemoryPredictor:
    def __init__(self, lut: Lut | Mapping[str, Any], space: SearchSpace) -> None:
        lut = as_lut(lut)  # a document built in Python (a benchmark's) is checked as a file's is
        check_space(lut, space.name, space.hash)
        if lut.memory is None:
            raise LUTError(no_memory(lut))
        self.lut, self.space = lut, space
        self.record: dict[str, Any] = lut.measurement["memory"]
        self.memory = {k: {key: float(e["memory"][k]) for key, e in lut.entries.items()} for k in KINDS}
        self.working = {key: float(e["memory"]["working_bytes"]) for key, e in lut.entries.items()} if has_working_sets(lut) else None
        self.tables = {k: AdditiveTable(space, self._value(self.memory[k])) for k in KINDS}
        self.largest = AdditiveTable(space, self._value(self.working)) if self.working is not None else None
        self.early = EarlyOutputs.of(space, lut.resolution) if self.working is not None else None
        self._check_positive()
        self.calibration = self._calibrate(lut.validation)

    def _check_positive(self) -> None:
        """A LUT whose memory entries add up to nothing or less for some subnet would let it pass
        any memory budget (a hand-edited LUT with negative entries, its id recomputed): the least
        of each kind over the whole space (`least`) must be above zero."""
        for kind in KINDS:
            if (least := self.least(kind)) <= 0:
                raise LUTError(
                    f"LUT {self.lut.id} predicts as little as {least / MIB:.4g} MiB of {kind.split('_')[0]} memory for subnets of space "
                    f"{self.space.name!r} (its negative entries add up), and a model's memory cannot be zero or negative; rebuild it with `bench profile`"
                )

    def least(self, kind: str = "peak_bytes") -> float:
        """The least memory (bytes) of one kind this LUT predicts for any subnet of the space, exactly:
        for the peak, per combination of the early outputs' widths (what it adds included), the least
        over the subnets with those widths."""
        if kind == "peak_bytes" and self.early is not None:
            return min(
                least_sum_and_largest(self._value(self.memory["load_bytes"]), self._value(self.working), narrowed) + extra
                for narrowed, extra in self.early.choices(self.space)
            )
        return least_total(self.tables[kind], self.space)

    @staticmethod
    def _value(amounts: dict[str, float]) -> PartValue:
        return lambda part, stage=None, **params: amounts.get(entry_key(part, stage, **params), np.nan)

    def predict(self, config: SubnetConfig) -> Memory:
        validate(config, self.space)
        keys = [p.key for p in parts(config, self.space)]
        if missing := sorted({k for k in keys if k not in self.memory["peak_bytes"]}):
            raise missing_entries(self.lut, missing, config)
        load = sum(self.memory["load_bytes"][key] for key in keys)
        if self.working is None:
            return Memory(load, sum(self.memory["peak_bytes"][key] for key in keys))
        return Memory(load, load + max(self.working[key] for key in keys) + self.early.bytes(config))

    def predict_batch(self, b: ConfigBatch, kind: str = "peak_bytes") -> np.ndarray:
        """One kind of memory (bytes) of every config of a batch; the same as `predict`, vectorised."""
        if kind == "peak_bytes" and self.largest is not None:
            total = self.tables["load_bytes"].total(b) + largest_part(self.largest, b) + self.early.bytes_batch(b)
        else:
            total = self.tables[kind].total(b)
        if (bad := np.flatnonzero(np.isnan(total))).size:
            self.predict(decode(b, int(bad[0]), self.space))
        return total

    def _calibrate(self, validation: Mapping[str, Any] | None) -> Calibration | None:
        """How far measured peaks fell from this predictor's, relative to it, over the subnets of
        the LUT's latest validation that measured memory (predicted again here: the record's
        prediction may be an older model's); None with fewer than `MIN_VALIDATED` of them."""
        points = [p for p in (validation or {}).get("points", []) if "measured_memory_mib" in p]
        if validation is None or len(points) < MIN_VALIDATED:
            return None
        predicted = np.array([self.predict(SubnetConfig.from_dict(p["config"])).peak_bytes for p in points])
        measured = np.array([p["measured_memory_mib"]["peak_mib"] * MIB for p in points])
        return calibrated(measured / predicted - 1.0, validation)

    def interval(self, value: float) -> tuple[float, float]:
        """Where the peak of a model predicted at `value` bytes would be measured, 95%: from the
        errors of the LUT's validated subnets where it has some (their mean and spread relative to
        the prediction, as latency's calibration), else from how far the LUT's networks moved
        between sessions (the measurement's spread only, which says nothing of the model's error),
        cut at zero as the calibrated one is: a LUT's sessions may have moved by more than half
        (`relative_sd` up to 10), and no memory is negative."""
        if self.calibration is not None:
            low, high = self.calibration.bounds(value, value)
            return float(low), float(high)
        half = Z * self.record["relative_sd"] * value
        return max(value - half, 0.0), value + half
