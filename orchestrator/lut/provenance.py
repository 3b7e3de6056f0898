"""Where a LUT's numbers come from: its device and runtime sections, and, for a profile spread over a
shelf, every phone that measured it."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from orchestrator.export.backends import get_backend
from orchestrator.lut.reference import phone_speeds, reference_phone
from orchestrator.lut.sessions import Sessions, session_name
from orchestrator.measure.devices import Device

SIBLING_SPREAD = 0.1  # phones of one model whose anchor speeds differ by more than this are named


def device_provenance(device: Device, first: dict[str, Any]) -> dict[str, Any]:
    """The LUT's device and runtime sections, from the registry entry and the first session's facts:
    the exporter's versions, the device runtime's, and each library the runtime reports linking
    (`runtime.libraries` of a result: the phone apps' ExecuTorch AAR and Android release, Core ML and
    iOS) as `runtime.<library>`. A runtime that reports none adds nothing, so earlier LUTs read the same."""
    backend = get_backend(device.backend)
    tool = backend.tool
    libraries = {f"runtime.{name}": value for name, value in first["runtime"].get("libraries", {}).items()}
    return {
        "device": {
            "name": device.name,
            "platform": device.platform,
            "backend": device.backend,
            "precision": backend.precision,
            **({"quantization": backend.quantization} if backend.quantization else {}),
            "runtime": device.runtime,
            "description": device.description,
            "facts": {**first["device"], "runtime": first["runtime"]},
        },
        "runtime_versions": {"torch": version("torch"), tool: version(tool), "runtime": first["runtime"]["version"], **libraries},
    }


def phones_provenance(sessions: Sessions, results: list[dict[str, Any]], anchor: str, log: Callable[[str], None]) -> dict[str, Any]:
    """With a shelf: every phone that measured a session of this LUT (serial, model, OS and build),
    the sessions it ran with its heat before and after each, its anchor speed against the reference
    phone's, and the phones that dropped out and why; and which phone ran each session. A phone far
    off its siblings' speed is named in the log. Without a shelf, nothing."""
    if sessions.spread is None:
        return {}
    names = [session_name(r) for r in results]
    thermal = {name: r.get("thermal") for name, r in zip(names, results)}
    speeds = phone_speeds(sessions, results, anchor)
    reference_ms, reference = reference_phone([p.serial for p in sessions.spread.phones], speeds)
    phones: dict[str, dict[str, Any]] = {
        p.serial: {**p.facts(), "sessions": [], "thermal": {}, "dropped": None} for p in sessions.spread.phones
    }
    for name in names:
        facts = sessions.phones.get(name)
        if facts is None:
            continue  # measured by an earlier run without --phones: its phone is the device's own
        phone = phones.setdefault(facts["serial"], {**facts, "sessions": [], "thermal": {}, "dropped": None})
        phone["sessions"].append(name)
        phone["thermal"][name] = thermal[name]
    for serial, phone in phones.items():
        phone["anchor_ms"] = speeds.get(serial)
        phone["speed_vs_reference"] = speeds[serial] / reference_ms if serial in speeds and reference_ms else None
        if phone["speed_vs_reference"] is not None and abs(phone["speed_vs_reference"] - 1) > SIBLING_SPREAD:
            log(
                f"phone {serial} took x{phone['speed_vs_reference']:.2f} the reference phone {reference}'s time on the anchor network; "
                "its sessions are scaled to the reference, but a phone this far off its siblings may be throttled, on battery saver or busy: check it"
            )
    for serial, why in sessions.spread.dropped.items():
        phones[serial]["dropped"] = why
    return {
        "phones": list(phones.values()),
        "reference_phone": reference,
        "session_phone": {name: sessions.phones[name]["serial"] if name in sessions.phones else None for name in names},
    }
