"""Rebuild public_data/help_fbnet/ from a checkout of HELP (github HayeonLee/HELP, MIT): the FBNet
networks (`data/fbnet/arch.pt`) and the whole-network latencies of the devices docs/real_phones.md
uses, as one CSV, with the licence notice and the files' hashes. A maintainer's script, run once:
the toolkit and its tests read only the CSV (nothing is downloaded or unpickled at run time).

    python benchmarks/help_subset.py /path/to/HELP
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "public_data" / "help_fbnet"
PHONES = ("pixel2", "samsung_a50", "samsung_s7", "essential_ph_1")  # whole-network timings, whole milliseconds
TARGETS = ("raspi4", "eyeriss", "fpga")  # HELP's FBNet meta-test devices (lookup-table sums): the transfer's judges


def main() -> None:
    import torch  # the .pt files are torch pickles of plain lists: read once here, with weights_only

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("help_repo", type=Path)
    root = parser.parse_args().help_repo
    data = root / "data" / "fbnet"
    files = {"arch.pt": data / "arch.pt", **{f"latency/{d}.pt": data / "latency" / f"{d}.pt" for d in PHONES + TARGETS}}
    arch = torch.load(files["arch.pt"], weights_only=True)
    latency = {d: torch.load(files[f"latency/{d}.pt"], weights_only=True) for d in PHONES + TARGETS}
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "fbnet_latency.csv", "w") as f:
        f.write(",".join(["index", "ops", *PHONES, *TARGETS]) + "\n")
        for i, ops in enumerate(arch):
            values = [str(int(latency[d][i])) for d in PHONES] + [f"{float(latency[d][i]):.10g}" for d in TARGETS]
            f.write(",".join([str(i), " ".join(map(str, ops)), *values]) + "\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip() or None
    provenance = {
        "repository": "https://github.com/HayeonLee/HELP",
        "commit": commit,
        "licence": "MIT (LICENSE in this folder)",
        "files": {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()},
        "csv_sha256": hashlib.sha256((OUT / "fbnet_latency.csv").read_bytes()).hexdigest(),
        "what": "FBNet space (search/space/layerwise/fbnet.json), CIFAR-100 input: 5,000 networks in HELP's index order. `ops`: each layer's "
        "block as an index into the space's ops (k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip). Phones (pixel2, "
        "samsung_a50, samsung_s7, essential_ph_1): whole-network latency in whole ms as HELP keeps it. raspi4, eyeriss, fpga: HW-NAS-Bench's "
        "lookup-table sums (fbnet_get_metrics), exact additive, no timing noise",
        "order": "`index` is HELP's file order, read as the measurement order (its residuals are autocorrelated along it: docs/real_phones.md)",
    }
    (OUT / "PROVENANCE.json").write_text(json.dumps(provenance, indent=1) + "\n")


if __name__ == "__main__":
    main()
