"""A deployment manifest per held device (`deploy-<device>.json`, beside the programs): how an app
feeds the program delivered for that device and what the finish predicted and measured of it; and
one per program delivered for devices the search held none of (`deploy-<backend>.json`: the Core ML
package where no iPhone was held), how to feed it, without the figures no LUT of its device gave.

A program alone does not say how to feed it: an ExecuTorch program takes a float tensor of
normalised pixels and answers logits, in an order only the checkpoint knows. The manifest says it
from the sources themselves: the input and outputs read from the program (`Backend.program_io`),
the resizing and normalisation from the evaluation transform the model was scored with
(`search.training.data.eval_transform`), the labels from the checkpoint. A Core ML program takes
pixels and answers labels itself (its app form, `orchestrator.export.coreml_app`): its manifest
says the normalisation is done by the model.

The figures are a small typed record (`Figures`), read for now from result.json's section of the
device (`Figures.of_section`): latency and memory as predicted and measured, and the accuracy of
the program delivered for the device (held-out and test, each with its count and interval: an
int8 program's own). The program's size is its bytes as delivered (a Core ML package's, every
file's in it), what an app's download grows by. Manifests of earlier finishes hold neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from infra.errors import UserError
from infra.files import check_name, write_json_atomic
from infra.schema_check import schema_problem
from infra.strict_json import load_json
from orchestrator.export.backends import Backend, get_backend
from orchestrator.export.program_io import Port, ProgramIO
from orchestrator.searchjob.delivery import Delivered
from orchestrator.searchjob.job import SearchJob
from search.nas.constraints.size import program_bytes
from search.supernet.static import StaticSubnet
from search.training.data import eval_transform, resolve_augment

VERSION = 1
PREFIX = "deploy-"


def manifest_name(device: str) -> str:
    """The manifest's file name in the run folder (`search.supernet.found.DELIVERED` owns the pattern):
    a held device's name, or the backend's of a program the search held no device of."""
    return f"{PREFIX}{check_name(device, 'a device name')}.json"


@dataclass(frozen=True)
class Feeding:
    """What is alike on every device: the delivered subnet (its config's hash and resolution), the
    labels of its outputs in order, and the augmentation whose evaluation transform scored it
    (`crop`, `shift`, `none`), which says how an image is resized."""

    classes: tuple[str, ...]
    resolution: int
    augment: str
    config_hash: str


def feeding_of(job: SearchJob, static: StaticSubnet) -> Feeding:
    """The search job's: its checkpoint's labels, the delivered subnet's resolution, and the
    augmentation the job's data resolves to (as the job's images were loaded)."""
    root = job.scorer.root
    config = static.config
    return Feeding(tuple(job.ckpt["classes"]), config.resolution, resolve_augment(root, job.scorer.train_settings.augment), config.hash)


@dataclass(frozen=True)
class Figures:
    """What the finish predicted and measured of the delivered model on one device (for a program
    no held device runs, none of it: `unheld`)."""

    lut: str | None
    predicted_ms: float | None
    predicted_interval_ms: tuple[float, float] | None
    measured_ms: float | None
    measured_ms_at_lut_speed: float | None
    not_measured: str | None  # why there is no measurement
    memory_predicted: dict[str, Any] | None  # load_mib, peak_mib, peak_interval_mib
    memory_not_predicted: str | None
    memory_measured: dict[str, Any] | None  # load_mib, peak_mib, method
    holdout: dict[str, Any]  # the program's accuracy on the held-out images (an int8 program's own), with its count and interval
    test: dict[str, Any] | None  # on the test images; None where the data has no test split

    @classmethod
    def of_section(cls, section: dict[str, Any]) -> Figures:
        """From result.json's section of the device (`result.py` `_device_section`)."""
        latency, memory, timed = section["constraints"]["latency"], section["constraints"]["memory"], section["measurement"]
        lo, hi = latency["interval"]
        predicted = None if "not_predicted" in memory else {"load_mib": memory["load_predicted"], "peak_mib": memory["predicted"], "peak_interval_mib": memory["interval"]}
        measured = timed and timed["memory"] and {"load_mib": timed["memory"]["load_bytes"] / 2**20, "peak_mib": timed["memory"]["peak_bytes"] / 2**20,
                                                  "method": timed["memory"]["method"]}
        return cls(
            section["lut"], latency["predicted"], (lo, hi), timed and timed["measured_ms"], latency["measured"], section["not_measured"],
            predicted, memory.get("not_predicted"), measured or None, section["holdout"], section["test"],
        )

    @classmethod
    def unheld(cls, backend: Backend, model: dict[str, Any]) -> Figures:
        """A program delivered for devices the search held none of (the Core ML package where no
        iPhone was held): nothing priced or timed, and the float32 model's accuracy (`model`:
        result.json's), which a float32 program computes."""
        why = f"the search held no device that runs it ({backend.runs_on}), so no LUT priced it and nothing timed it"
        return cls(None, None, None, None, None, why, None, why, None, model["holdout"], model["test"])

    def memory_not_measured(self) -> str | None:
        if self.memory_measured is not None:
            return None
        return self.not_measured or "this device's runner measures no memory"


def write_manifests(folder: Path, feeding: Feeding, result: dict[str, Any], files: Delivered) -> list[Path]:
    """A manifest per held device (result.json's `devices`) for its backend's program in `folder`,
    and one per program delivered for devices the search held none of (`deploy-<backend>.json`:
    how an app feeds it, without figures no LUT gave), each checked against the schema first."""
    held = {section["backend"] for section in result["devices"].values()}
    manifests = {manifest_name(device): manifest(device, get_backend(section["backend"]), files, feeding, Figures.of_section(section))
                 for device, section in result["devices"].items()}
    for name in files.artifacts.keys() - held:
        backend = get_backend(name)
        manifests[manifest_name(name)] = {**manifest(None, backend, files, feeding, Figures.unheld(backend, result["model"])), "runs_on": backend.runs_on}
    written = []
    for file, doc in manifests.items():
        if (found := schema_problem(doc, schema())) is not None:
            raise ValueError(f"the deployment manifest {file} breaks its schema at {found[0]}: {found[1]}")
        written.append(folder / file)
        write_json_atomic(written[-1], doc)
    return written


def manifest(device: str | None, backend: Backend, files: Delivered, feeding: Feeding, figures: Figures) -> dict[str, Any]:
    """The manifest of the program delivered for `device` (None: for devices the search held none
    of) in `backend`'s form, its input and outputs read from the program."""
    program, facts = files.artifacts[backend.name], files.facts.get(backend.name, {})
    io = backend.program_io(program)
    if len(io.inputs) != 1:
        raise ValueError(f"{program} takes {len(io.inputs)} inputs; a delivered model takes one image")
    steps = preprocessing(feeding, in_model=io.inputs[0].kind == "image")
    if io.labels is not None and list(io.labels) != list(feeding.classes):
        raise ValueError(f"{program} carries the labels {io.labels}, not the checkpoint's {list(feeding.classes)}")
    return {
        "version": VERSION,
        "device": device,
        "program": {
            "file": program.name, "format": backend.format, "backend": backend.name, "precision": backend.precision,
            "quantization": facts.get("quantization", backend.scheme) if backend.precision == "int8" else None, "method": io.method,
            "size_bytes": program_bytes(program),
        },
        "model": {"config_hash": feeding.config_hash, "resolution": feeding.resolution, "checkpoint": files.checkpoint.name},
        "input": _input(io.inputs[0], steps),
        "preprocessing": steps,
        "labels": list(feeding.classes),
        "outputs": [_output(port, io) for port in io.outputs],
        "accuracy": {"holdout": _accuracy(figures.holdout), "test": figures.test and _accuracy(figures.test)},
        "latency": {
            "lut": figures.lut, "predicted_ms": figures.predicted_ms,
            "predicted_interval_ms": list(figures.predicted_interval_ms) if figures.predicted_interval_ms else None,
            **({"not_predicted": figures.not_measured} if figures.lut is None else {}),
            "measured_ms": figures.measured_ms, "measured_ms_at_lut_speed": figures.measured_ms_at_lut_speed, "not_measured": figures.not_measured,
        },
        "memory": {
            "predicted": figures.memory_predicted, "not_predicted": figures.memory_not_predicted,
            "measured": figures.memory_measured, "not_measured": figures.memory_not_measured(),
        },
    }


def preprocessing(feeding: Feeding, in_model: bool) -> dict[str, Any]:
    """The evaluation transform as steps an app follows: resizing as its transforms resize, then
    `(x * scale - mean[c]) / std[c]` per RGB channel, by the app or (`in_model`) by the program."""
    from torchvision import transforms

    resize: list[dict[str, Any]] = []
    interpolation, mean, std = None, None, None
    for step in eval_transform(feeding.resolution, feeding.augment).transforms:
        if isinstance(step, transforms.Resize):
            interpolation = f"{step.interpolation.value}{', antialiased' if step.antialias else ''} (PIL's Image.resize, as torchvision resizes a PIL image)"
            size = step.size
            resize.append({"op": "resize_shorter_side", "to": size} if isinstance(size, int) else {"op": "resize", "to": [int(size[0]), int(size[1])]})
        elif isinstance(step, transforms.CenterCrop):
            resize.append({"op": "centre_crop", "to": [int(step.size[0]), int(step.size[1])]})
        elif isinstance(step, transforms.Normalize):
            mean, std = [float(m) for m in step.mean], [float(s) for s in step.std]
        elif not isinstance(step, transforms.ToTensor):
            raise ValueError(f"the evaluation transform has a step {step!r} a manifest cannot state")
    if interpolation is None or mean is None or std is None:
        raise ValueError("the evaluation transform neither resizes nor normalises")
    return {
        "resize": resize, "interpolation": interpolation, "scale": 1 / 255, "mean": mean, "std": std,
        "formula": "(x * scale - mean[c]) / std[c] for each pixel value x (0-255) of RGB channel c", "done_by": "model" if in_model else "app",
    }


def _input(port: Port, steps: dict[str, Any]) -> dict[str, Any]:
    if port.kind == "image":
        values, span = "RGB pixels, 0-255: the program scales and normalises them itself", [[0.0, 255.0]] * 3
    else:
        values = "normalised pixels: (x / 255 - mean[c]) / std[c], as preprocessing says, channels R, G, B"
        span = [[(0 - m) / s, (1 - m) / s] for m, s in zip(steps["mean"], steps["std"])]
    return {
        "name": port.name, "kind": port.kind, "shape": port.shape, "layout": "image" if port.kind == "image" else "NCHW",
        "dtype": port.dtype, "color_layout": port.color_layout or "RGB", "values": values, "range": span,
    }


def _accuracy(proportion: dict[str, Any]) -> dict[str, Any]:
    """An accuracy in result.json's words (`search.nas.significance.Proportion.to_dict`): the share
    right, the count it is of, and its interval (`low`, `high`) at its confidence by its method."""
    return {key: proportion[key] for key in ("value", "correct", "total", "low", "high", "confidence", "method")}


def _output(port: Port, io: ProgramIO) -> dict[str, Any]:
    meaning = {
        "label": "the most probable class label",
        "probabilities": "each class label's probability (softmax)",
        "tensor": "logits, one per class label in the order of labels: the argmax is the answer, softmax gives probabilities",
    }[port.kind]
    return {"name": port.name, "kind": port.kind, "shape": port.shape, "dtype": port.dtype, "meaning": meaning}


@cache
def schema() -> dict[str, Any]:
    return json.loads((resources.files("orchestrator.searchjob") / "schemas" / f"deployment.v{VERSION}.json").read_text())


def read_manifest(path: Path) -> dict[str, Any]:
    """A deployment manifest read back, refused in one sentence where it breaks its schema or says
    what no finish writes across its fields (which the schema cannot compare): an app that trusts
    it would name classes by the wrong labels, or check a measurement against an interval that
    holds nothing."""
    fix = "run the search's finish again to write it anew (`bench search ... --resume`)"
    doc = load_json(path, "the deployment manifest", fix)
    if (found := schema_problem(doc, schema())) is not None:
        where, problem = found
        raise UserError(f"the deployment manifest {path} is malformed at {where} ({problem}); {fix}")
    if (problem := _contradiction(doc)) is not None:
        raise UserError(f"the deployment manifest {path} {problem}; {fix}")
    return doc


def _contradiction(doc: dict[str, Any]) -> str | None:
    """Where a manifest that passes its schema contradicts itself: a tensor output answering
    another number of classes than the labels name (its last dimension), an accuracy counting more
    images right than it was scored on, or an interval whose ends are reversed; None where it does not."""
    labels = len(doc["labels"])
    for i, output in enumerate(doc["outputs"]):
        if output["kind"] == "tensor" and output["shape"] and output["shape"][-1] != labels:
            return f"names {labels} labels, but its output {i} answers {output['shape'][-1]} classes (shape {output['shape']})"
    intervals = {"latency/predicted_interval_ms": doc["latency"]["predicted_interval_ms"]} if doc["latency"]["predicted_interval_ms"] else {}
    intervals.update((f"input/range/{channel}", span) for channel, span in enumerate(doc["input"]["range"]))
    if (predicted := doc["memory"]["predicted"]) is not None and "peak_interval_mib" in predicted:
        intervals["memory/predicted/peak_interval_mib"] = predicted["peak_interval_mib"]
    for split, accuracy in (doc.get("accuracy") or {}).items():  # a manifest of an earlier finish has none
        if accuracy is not None:
            if accuracy["correct"] > accuracy["total"]:
                return f"counts {accuracy['correct']} right of {accuracy['total']} images at accuracy/{split}"
            intervals[f"accuracy/{split}"] = [accuracy["low"], accuracy["high"]]
    for where, (low, high) in intervals.items():
        if low > high:
            return f"has the interval [{low:g}, {high:g}] at {where} whose ends are reversed"
    return None
