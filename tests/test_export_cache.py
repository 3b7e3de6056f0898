"""The export cache trusts an entry only if its artifact is the one exported: a damaged entry is a
miss and is exported again; and a process that needs an entry another one is exporting waits for
it and takes that export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from infra.errors import UserError
from orchestrator.export.cache import artifact_path, cache_key, lookup
from orchestrator.export.probes import export_probes, lowering_cost
from orchestrator.export.trained import export_trained
from orchestrator.plan.spec import ProbeSpec
from search.space import load_space
from search.space.sampling import max_config, min_config
from search.supernet.digest import weights_digest

pytestmark = pytest.mark.exports

TINY = load_space("tiny")
OVERHEAD = ProbeSpec("overhead", 64)


class PoolAsked(Exception):
    """Raised by a stand-in for the pool, once it has seen how many workers it was asked for."""


@pytest.mark.parametrize(("env", "expected"), [("3", 3), (None, 2)])
def test_an_export_whose_caller_names_no_workers_starts_as_many_as_bench_workers_says(monkeypatch, tmp_path: Path, env, expected) -> None:
    """The Python API's default is the commands' (`Profiler`, validation and transfer pass None on)."""
    asked: list[int] = []

    def pool(workers: int, tasks: int):
        asked.append(workers)
        raise PoolAsked

    monkeypatch.setattr("orchestrator.export.probes.pool", pool)
    if env is None:
        monkeypatch.delenv("BENCH_WORKERS", raising=False)
    else:
        monkeypatch.setenv("BENCH_WORKERS", env)
    with pytest.raises(PoolAsked):
        export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", root=tmp_path, show_progress=False)
    assert asked == [expected]


def test_a_bench_workers_that_is_no_count_is_refused_by_the_api_in_one_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_WORKERS", "two")
    with pytest.raises(UserError, match=r"^\$BENCH_WORKERS must be a whole number from 1 to 64, not 'two'; set it to one in that range or unset it$"):
        export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", root=tmp_path, show_progress=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", workers=1, root=root, show_progress=False)
    return root


@pytest.fixture
def cached(exported: Path, tmp_path: Path) -> Path:
    """A copy of the cache with one entry, in this test's folder."""
    shutil.copytree(exported, tmp_path, dirs_exist_ok=True)
    return artifact_path(tmp_path, "pte", cache_key(OVERHEAD, TINY.hash, "pte"))


@pytest.mark.slow
def test_an_entry_records_the_size_and_hash_of_its_artifact(cached: Path, tmp_path: Path) -> None:
    hit = lookup(OVERHEAD, TINY.hash, "pte", tmp_path)
    assert hit is not None and hit.path == cached
    assert hit.meta["artifact_bytes"] == cached.stat().st_size > 0 and len(hit.meta["artifact_sha256"]) == 64


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        lambda artifact: artifact.write_bytes(b""),
        lambda artifact: artifact.write_bytes(artifact.read_bytes()[:-1] + bytes([artifact.read_bytes()[-1] ^ 0xFF])),
        lambda artifact: artifact.with_suffix(".json").write_text("{}"),
        lambda artifact: artifact.with_suffix(".json").write_text("{broken"),
    ],
    ids=["empty artifact", "changed artifact", "empty sidecar", "corrupt sidecar"],
)
def test_a_damaged_entry_is_a_miss(cached: Path, tmp_path: Path, damage) -> None:
    damage(cached)
    assert lookup(OVERHEAD, TINY.hash, "pte", tmp_path) is None


@pytest.mark.slow
def test_a_missed_entry_is_exported_again_whole(cached: Path, tmp_path: Path) -> None:
    good = cached.read_bytes()
    cached.write_bytes(b"")
    again = export_probes({OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", workers=1, root=tmp_path, show_progress=False)
    assert not again[OVERHEAD.id].cached and cached.read_bytes() == good
    assert json.loads(cached.with_suffix(".json").read_text())["artifact_bytes"] == len(good)


def test_bigger_networks_are_exported_first() -> None:
    smallest = ProbeSpec("net", 64, min_config(TINY, 64).to_json())
    largest = ProbeSpec("net", 64, max_config(TINY, 64).to_json())
    assert lowering_cost(largest) > lowering_cost(smallest) > lowering_cost(OVERHEAD) == 0


def test_export_workers_end_with_the_bench_that_started_them(tmp_path: Path) -> None:
    """A killed `bench` (SIGTERM, SIGKILL) must not leave workers lowering networks for minutes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.processes import alive, children

    script = (
        "import sys; from pathlib import Path; from orchestrator.export.probes import export_probes; "
        "from orchestrator.plan.spec import ProbeSpec; from search.space.sampling import max_config; from search.space import load_space; "
        "s = load_space('tiny'); p = ProbeSpec('net', 64, max_config(s, 64).to_json()); "
        "export_probes({p.id: p}, s.name, s.hash, 'pte', workers=1, root=Path(sys.argv[1]), show_progress=False)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not (workers := [c for c in children(parent.pid) if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()]):
        time.sleep(0.2)
    parent.kill()
    parent.wait()
    try:
        assert workers, "the export worker never started"
        deadline = time.monotonic() + 5  # its export alone takes longer: only the watch ends it this soon
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(w) for w in workers)
    finally:
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)


@pytest.mark.slow
def test_an_export_waits_for_the_process_holding_the_entry_and_takes_its_export(exported: Path, tmp_path: Path) -> None:
    """Two commands sharing the cache: the second finds the entry locked by the first (here, this
    test), waits instead of failing, and uses the first's export rather than exporting again."""
    import threading
    import time

    from infra.locks import held

    artifact = artifact_path(tmp_path, "pte", cache_key(OVERHEAD, TINY.hash, "pte"))
    artifact.parent.mkdir(parents=True)
    outcome: dict = {}
    with held(artifact.with_name(f".{artifact.name}.lock"), "the test's export"):
        waiting = threading.Thread(target=lambda: outcome.update(export_probes(
            {OVERHEAD.id: OVERHEAD}, TINY.name, TINY.hash, "pte", workers=1, root=tmp_path, show_progress=False)))
        waiting.start()
        time.sleep(3)  # long enough for the worker to reach the lock; it must still be waiting
        assert waiting.is_alive() and outcome == {}
        source = artifact_path(exported, "pte", cache_key(OVERHEAD, TINY.hash, "pte"))
        shutil.copy(source, artifact)
        shutil.copy(source.with_suffix(".json"), artifact.with_suffix(".json"))
    waiting.join(timeout=120)
    taken = outcome[OVERHEAD.id]
    assert taken.path == artifact and taken.meta == json.loads(source.with_suffix(".json").read_text())


def _counting_export(calls: list[Path], payload: bytes = b"ET-program"):
    def export(target: Path) -> dict:
        calls.append(target)
        target.write_bytes(payload)
        return {"partitions": 1}

    return export


def test_a_trained_model_is_exported_once_and_copied_to_each_delivery(tmp_path: Path) -> None:
    calls: list[Path] = []
    identity = {"config": "c", "weights": weights_digest({"w": torch.ones(3)})}
    first = export_trained(identity, "pte", tmp_path / "a" / "best.pte", _counting_export(calls), root=tmp_path / "cache")
    second = export_trained(identity, "pte", tmp_path / "b" / "best.pte", _counting_export(calls), root=tmp_path / "cache")
    assert len(calls) == 1 and first == second == {"partitions": 1}
    assert (tmp_path / "a" / "best.pte").read_bytes() == (tmp_path / "b" / "best.pte").read_bytes() == b"ET-program"


def test_other_weights_are_another_export() -> None:
    assert weights_digest({"w": torch.ones(3)}) != weights_digest({"w": torch.tensor([1.0, 1.0, 1.0 + 1e-6])})
    assert weights_digest({"w": torch.ones(3)}) != weights_digest({"v": torch.ones(3)})
    assert weights_digest({"w": torch.ones(3)}) != weights_digest({"w": torch.ones(3, dtype=torch.float64)})


def test_a_damaged_trained_export_is_exported_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    identity = {"config": "c", "weights": "w"}
    export_trained(identity, "pte", tmp_path / "best.pte", _counting_export(calls), root=tmp_path / "cache")
    calls[0].write_bytes(b"ET-damaged")
    export_trained(identity, "pte", tmp_path / "again.pte", _counting_export(calls), root=tmp_path / "cache")
    assert len(calls) == 2 and (tmp_path / "again.pte").read_bytes() == b"ET-program"


def test_a_trained_package_folder_is_copied_whole(tmp_path: Path) -> None:
    def export(target: Path) -> dict:
        (target / "Data").mkdir(parents=True)
        (target / "Data" / "model.mlmodel").write_bytes(b"spec")
        (target / "Manifest.json").write_text("{}")
        return {}

    identity = {"config": "c", "weights": "w"}
    export_trained(identity, "coreml", tmp_path / "best.mlpackage", export, root=tmp_path / "cache")
    export_trained(identity, "coreml", tmp_path / "best.mlpackage", export, root=tmp_path / "cache")
    assert sorted(p.relative_to(tmp_path / "best.mlpackage").as_posix() for p in (tmp_path / "best.mlpackage").rglob("*")) == [
        "Data", "Data/model.mlmodel", "Manifest.json"
    ]


def test_exports_run_no_more_than_workers_at_once_whatever_the_pools_size(monkeypatch, tmp_path):
    """A pool kept from an export with more workers (a command's earlier step, a test run) serves
    one with fewer: the tasks go to it `workers` at a time."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from orchestrator.export import probes as batch

    running, most, lock = [0], [0], threading.Lock()

    def export(space_name, spec, backend, artifact, log_path):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return {"probe": spec}

    monkeypatch.setattr(batch, "_export_worker", export)
    monkeypatch.setattr(batch, "pool", lambda workers, tasks: ThreadPoolExecutor(max_workers=4))
    probes = {p.id: p for p in (ProbeSpec("overhead", r) for r in (32, 40, 48, 56, 72))}
    done = export_probes(probes, TINY.name, TINY.hash, "pte", workers=2, root=tmp_path, show_progress=False)
    assert set(done) == set(probes) and most[0] == 2


def test_a_pool_is_kept_for_fewer_workers_and_replaced_for_more(monkeypatch):
    """On pools of its own (no task is handed them, so no worker starts): the process's own pool,
    warm with the suite's earlier exports, is given back afterwards."""
    from orchestrator.export import pool as kept
    from orchestrator.export.pool import pool, stop_pool

    monkeypatch.setattr(kept, "_POOL", None)
    try:
        two = pool(2, tasks=3)
        assert pool(1, tasks=3) is two and pool(2, tasks=3) is two
        stop_pool()
        one = pool(1, tasks=3)
        assert pool(2, tasks=1) is one  # one task: any pool takes it
        assert pool(2, tasks=3) is not one
    finally:
        stop_pool()
