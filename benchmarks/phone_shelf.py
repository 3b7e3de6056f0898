"""Profile wall time by number of phones (issue 15), and how far the merged LUT is from one phone's:
its repeatability, and whether its entries lie inside the one-phone LUT's intervals (issue 23).

The phones are ADB protocol peers on loopback (fakes/adb_peer.py): real sessions through adb-shell,
the benchmark app played by the host runner's child on this machine, one thread each. Every
profile measures the same plan (the quick preset's unless told otherwise) with the same settings;
`--cooldown-s` is the pause between two sessions on one phone (60 s on a real phone by default,
where it dominates a quick profile). `--slowdown` makes every phone after the first that much
slower (its sessions take longer and report larger latencies, as an older phone of the model).

The loopback phones share this machine's cores (`--pin` keeps each phone's app on a core of its
own, but not off the memory and caches they share, nor off this process, which speaks ADB for all
of them), so phones measuring at once disturb each other; a real shelf has a CPU per phone. Run: .venv/bin/python -m benchmarks.phone_shelf --help
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.lut_build import coverage, entry_intervals, repeatability
from fakes.adb_peer import AdbPeer
from orchestrator.cli.entry import run_main
from orchestrator.export.probes import export_probes
from orchestrator.lut.runs import ProfileRequest, profile_lut
from orchestrator.lut.settings import QUICK
from orchestrator.measure.devices import Device
from orchestrator.measure.runners.android.runner import AndroidRunner
from orchestrator.measure.runners.android.settings import AndroidSettings
from orchestrator.measure.shelf import ShelfPhone
from orchestrator.plan.builder import build_plan
from search.space import load_space

PIXEL = Device("pixel7", "android", "pte", {"threads": 1}, "Pixel 7 played by a loopback peer, one thread", {"model": ["Pixel 7"]})


def profile(peers: list[AdbPeer], key: Path, cooldown_s: float, space_name: str, resolution: int, work: Path) -> tuple[dict, float]:
    phones = [
        ShelfPhone(
            peer.address, "Pixel 7", "Android 14", "UQ1A.240105.004",
            AndroidRunner(AndroidSettings(address=peer.address, key_path=key, apk=None, cooldown_s=cooldown_s, poll_interval_s=0.5), PIXEL.name, ("Pixel 7",)),
        )
        for peer in peers
    ]
    request = ProfileRequest(PIXEL, space=space_name, resolution=resolution, settings=QUICK, out=work / "run", phones=phones, luts_root=work / "luts")
    start = time.perf_counter()
    doc, _ = profile_lut(request, log=lambda _: None, show_progress=False)
    return doc, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phones", default="1,2", help="shelf sizes to profile on, comma-separated (1,1,2: a repeat of one phone first)")
    parser.add_argument("--pin", action="store_true", help="run each loopback phone's app on a core of its own")
    parser.add_argument("--cooldown-s", type=float, default=10.0, help="pause between sessions on one phone")
    parser.add_argument("--slowdown", type=float, default=1.0, help="how much slower every phone after the first is")
    parser.add_argument("--space", default="tiny")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--cache", type=Path, default=None, help="export cache (default: the user's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phone-shelf-"))
    if args.cache:
        os.environ["BENCH_CACHE"] = str(args.cache)
    console = Console(width=150)
    space = load_space(args.space)
    plan = build_plan(space, args.resolution)
    export_probes(plan.probes, space.name, space.hash, "pte", workers=2, show_progress=True)

    key = work / "adbkey"
    rows, docs = [], []
    for row, n in enumerate(int(x) for x in args.phones.split(",")):
        folder = work / f"{row}-{n}-phones"
        peers = [AdbPeer(folder / f"phone-{i}") for i in range(n)]
        for i, peer in enumerate(peers):
            peer.phone.app_behaviour = "bench"  # real sessions: the app's part is the host runner's child
            peer.phone.slowdown = 1.0 if i == 0 else args.slowdown
            peer.phone.cpu = i % os.cpu_count() if args.pin else None
            peer.__enter__()
        try:
            doc, seconds = profile(peers, key, args.cooldown_s, space.name, args.resolution, folder)
        finally:
            for peer in peers:
                peer.__exit__(None, None, None)
        docs.append(doc)
        m = doc.measurement
        per_phone = " / ".join(str(len(p["sessions"])) for p in m["phones"])
        speeds = " / ".join(f"x{p['speed_vs_reference']:.2f}" for p in m["phones"])
        rows.append((n, seconds, m["sessions"], per_phone, speeds))
        console.print(f"{n} phone(s): {seconds:.0f} s", style="dim")

    base = rows[0][1]
    table = Table(title=f"profile wall time by phones: {space.name} at {args.resolution} px, quick settings, cool-down {args.cooldown_s:g} s, slowdown x{args.slowdown:g}")
    for column in ("phones", "wall s", "vs first row", "sessions", "sessions per phone", "anchor speed per phone"):
        table.add_column(column, justify="right")
    for n, seconds, sessions, per_phone, speeds in rows:
        table.add_row(str(n), f"{seconds:.0f}", f"{seconds / base:.2f}", str(sessions), per_phone, speeds)
    console.print(table)
    for (n, *_), doc in zip(rows[1:], docs[1:]):
        console.print(f"the {n}-phone LUT against the first row's:")
        console.print(repeatability(docs[0], doc, space))
        b_in_a, a_in_b, width = coverage(entry_intervals(docs[0]), entry_intervals(doc))
        console.print(
            f"within the entries' intervals: {b_in_a:.0%} of its entries lie inside the first row's 95% intervals, "
            f"{a_in_b:.0%} of the first row's inside its own (median width {width:.0%} of the entry)"
        )
    console.print(f"work folder: {work}")


if __name__ == "__main__":
    run_main(main)
