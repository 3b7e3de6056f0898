"""Shared fixtures: the tiny space, a supernet with non-trivial BatchNorm statistics, the digits
data, a trained tiny checkpoint, `bench` run in-process, and one export cache for the whole run.

The export cache is content-addressed (network, space, backend, toolchain), so every test can share
one: a network that any test exported is a cache hit for all the others, and two tests (or two
xdist workers) that need one network at once wait on its entry's lock instead of exporting it
twice. Only tests of the cache itself keep a private one (they set BENCH_CACHE themselves); tests of
phones keep their locks private and share the exports (`phone_cache`)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
from pathlib import Path

# One intra-op thread for torch here and in every process a test starts (set before torch is
# imported). The suite runs beside export workers, timing children and, under xdist, other
# workers on a 2-core machine; torch's spinning thread pool then loses most of its time to waiting
# for a core (one training epoch of the tiny supernet: 57-89 s with 2 threads, 5-8 s with 1).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# One export worker for every command and every API call a test runs, unless it asks for more
# (`$BENCH_WORKERS`, the default of `--workers` and of the Python API's exports): a worker costs
# ~12 s of CPU to start (importing torch and ExecuTorch, its first lowering's set-up), the suite is
# CPU-bound on 2 cores, and each xdist worker's pool is kept from one test to the next only while no
# test asks it for more workers than it has.
os.environ.setdefault("BENCH_WORKERS", "1")

# Bytecode is written here and in every process a test starts, whatever the shell says
# (PYTHONDONTWRITEBYTECODE is set on these machines): the test set-up does not byte-compile the
# venv's 20,000 modules (39 s on 2 cores), so the ~7,000 the suite imports are compiled once, on
# first import, instead of again in each process that imports them (torch alone is ~10 s from source).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# A suite started in the background by a shell without job control inherits SIGINT ignored, and
# Python then installs no KeyboardInterrupt handler: the Ctrl-C tests would interrupt nothing, nor
# would the commands they start (an ignored signal is inherited across exec, a handler is not).
# Ctrl-C is what those tests are about, so it is Python's own here.
signal.signal(signal.SIGINT, signal.default_int_handler)

from collections.abc import Iterator  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

# torch (and what imports it) is imported where used: under xdist this file is also the controller's,
# which runs no test, and whose start the workers wait for.
if TYPE_CHECKING:
    import torch

    from search.space import SearchSpace
    from search.supernet.model import Supernet


def randomise_norms(net: torch.nn.Module, seed: int = 0) -> None:
    """Give every norm layer non-identity statistics and affine weights, as a trained net has, so
    that a wrong slice of any of them shows up in the output."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if "Norm" not in type(m).__name__:
                continue
            for name, low, high in (("running_mean", -0.3, 0.3), ("running_var", 0.5, 1.5), ("weight", 0.5, 1.5), ("bias", -0.3, 0.3)):
                t = getattr(m, name, None)
                if isinstance(t, torch.Tensor):
                    t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)


@pytest.fixture(scope="session")
def export_cache(run_folder: Path) -> Path:
    """The run's export cache: one folder for every test and, under pytest-xdist, every worker."""
    return run_folder / "export-cache"


@pytest.fixture(autouse=True)
def phones_unknown_to_the_android_runner(monkeypatch) -> None:
    """The Android runner remembers each phone's last session, heat and throttling per process, by
    its address; a loopback port a later test reuses is another phone, so every test starts afresh."""
    import orchestrator.measure.runners.android.runner as android

    for name, fresh in (("_SESSION_ENDS", {}), ("_LAST_HEAT", {}), ("_THROTTLED_BEFORE", set())):
        monkeypatch.setattr(android, name, fresh)


@pytest.fixture(autouse=True)
def shared_export_cache(export_cache: Path, tmp_path_factory, monkeypatch) -> Path:
    """BENCH_CACHE for every test: the run's exports and FLOP counts, with locks of its own
    (`private_locks`). The host's timing lock would otherwise queue every timing test of one xdist
    worker behind the other's; tests of that lock hold it twice within one test."""
    cache = private_locks(tmp_path_factory.mktemp("bench-cache"), export_cache)
    monkeypatch.setenv("BENCH_CACHE", str(cache))
    return cache


def private_locks(cache: Path, shared: Path) -> Path:
    """An export cache at `cache` whose phone locks are its own and whose exports and FLOP counts are
    `shared`'s: tests of phone runners talk to fakes with one serial, so under xdist two of them would
    meet each other's lock on it, but their networks are everybody's."""
    cache.mkdir(parents=True, exist_ok=True)
    for part in ("exports", "flops"):
        (shared / part).mkdir(parents=True, exist_ok=True)
        if not (cache / part).exists():
            (cache / part).symlink_to(shared / part, target_is_directory=True)
    return cache


ROOT = Path(__file__).resolve().parents[1]
# The LUTs the repository ships, by device/space/id: what tests may read of luts/. A user's own
# profile writes its LUT beside them (the README's first command does), so a test that listed the
# folder would count it.
COMMITTED_LUTS = (
    "host/tiny/0400031f32bc4c36", "host/tiny/49ed7a75300f2cfc", "host/tiny/6cbb6555340dc483", "host/tiny/d0fb186589faa0c4",
    "host/tiny/d7f47ca8390c6922", "host/tiny/29def5299199ba8c", "host/tiny/aa5a9101d4e5b51a",
    "host/xxs/2a589111be5bc6e1", "host/xxs/6b8dc6fffb6e6bf1", "host/xxs/dee62bf85d8fe65c", "host/xxs/eb89c9b57325969d", "host/xxs/2a9204959dd6d8d7",
    "host-2t/tiny/0fd6177a3791c7fe", "host-2t/tiny/14a65a515756ea46",
    "host-portable/tiny/722a8793306ec00b", "host-portable/tiny/a649868f7adf87f9",
    "host-int8/tiny/4a8e952c1bd29257", "host-int8/tiny/c889ba940288de54", "host-int8/xxs/69a5311f2d4dc75d", "host-int8/tiny/1ab8c1048d7e2f38",
    "host-int8/xxs/3ae9e4446af8075f",
)


def copy_committed_luts(store: Path, under: str = "") -> Path:
    """The committed LUTs under `under` (a device, or device/space), with their validation records
    and figures, copied into the LUT store `store`, and nothing a user's run added beside them."""
    for name in COMMITTED_LUTS:
        if not name.startswith(under):
            continue
        source = ROOT / "luts" / name
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        for path in source.parent.glob(f"{source.name}.*"):
            if not path.name.endswith(".report.html"):
                shutil.copy(path, store / name.rsplit("/", 1)[0] / path.name)
    return store


def guard_off(mp: pytest.MonkeyPatch) -> None:
    """A profile's disturbance guards find no entry and no session to measure again. For tests of a
    profile's flow (its sessions, passes, holds and phones) that time the real host with runs too
    short to be steady: whether this machine's load makes an entry look wider than its network, or
    a session slower than the others, is the host's noise, not theirs to assert on. The guards have
    tests of their own, with a session disturbed on purpose (tests/test_profile.py); a LUT whose
    sessions still look disturbed still says so."""
    mp.setattr("orchestrator.lut.profile.offending_entries", lambda doc: [])
    mp.setattr("orchestrator.lut.profile.slow_sessions", lambda anchor_ms, machine: [])


@pytest.fixture
def undisturbed(monkeypatch) -> None:
    guard_off(monkeypatch)


@pytest.fixture
def phone_cache(export_cache: Path, tmp_path: Path, monkeypatch) -> Path:
    """BENCH_CACHE for a test of a phone: its locks private, its exports the run's (`private_locks`)."""
    cache = private_locks(tmp_path / "cache", export_cache)
    monkeypatch.setenv("BENCH_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny() -> SearchSpace:
    from search.space import load_space

    return load_space("tiny")


@pytest.fixture(scope="session")
def tiny_supernet(tiny: SearchSpace) -> Supernet:
    import torch

    from search.supernet.model import Supernet

    torch.manual_seed(0)
    net = Supernet(tiny)
    randomise_norms(net)
    return net.eval()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory, worker_id: str) -> Path:
    """A folder of the whole run, shared by every pytest-xdist worker."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def made_once(path: Path, make) -> Path:
    """`path`, made by `make(path)` in whichever worker asks first while the others wait for it."""
    from filelock import FileLock

    with FileLock(f"{path}.lock"):
        if not path.exists():
            staging = path.with_name(f"{path.name}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            make(staging)
            staging.rename(path)
    return path


@pytest.fixture(scope="session")
def tiny_min_pte(run_folder: Path) -> Path:
    """The tiny space's smallest subnet at 64 px as ExecuTorch exports it for phones, once for the
    run: the Android and iOS runners' tests push it as any user's `.pte`."""
    import torch

    from orchestrator.export.executorch import save_pte
    from search.space import load_space
    from search.space.sampling import min_config
    from search.supernet.deploy import deploy_form
    from search.supernet.static import StaticSubnet

    def export(path: Path) -> None:
        space = load_space("tiny")
        save_pte(deploy_form(StaticSubnet(min_config(space, 64), space)), torch.randn(1, 3, 64, 64), path)

    return made_once(run_folder / "tiny-min.pte", export)


def write_small_digits(root: Path) -> None:
    from search.training.digit_sets import write_digits

    write_digits(root)
    for split, keep in (("train", 24), ("val", 4)):
        for folder in (root / split).iterdir():
            for extra in sorted(folder.iterdir())[keep:]:
                extra.unlink()


@pytest.fixture(scope="session")
def digits_dir(run_folder: Path) -> Path:
    """A small real data set: scikit-learn's digits as an ImageFolder, 24 training and 4 test
    images per class (fast enough for every training test)."""
    return made_once(run_folder / "digits", write_small_digits)


def tiny_train_settings(data: Path, **overrides):
    from search.training.settings import TrainSettings

    base = dict(space="tiny", data=str(data), resolution=64, epochs=2, batch_size=16, lr=2e-3, warmup_epochs=1, hflip=False, holdout=0.15, sampling="random")
    return TrainSettings(**{**base, **overrides})


@pytest.fixture(scope="session")
def tiny_checkpoint(digits_dir: Path, run_folder: Path) -> Path:
    """A tiny supernet trained for 2 epochs on the small digits set (last.pt), once for the run."""
    from search.training import distributed
    from search.training.train import Trainer

    def train(out: Path) -> None:
        Trainer(tiny_train_settings(digits_dir), out, distributed.init(prefer_gpu=False)).run()

    return made_once(run_folder / "train", train) / "last.pt"


@pytest.fixture(scope="session")
def tiny_search_run(tiny_checkpoint: Path, run_folder: Path, export_cache: Path) -> Path:
    """A finished search of `tiny_checkpoint` (`bench search --out` as it leaves it: result.json,
    best.pt, the exported models; not measured), against a made-up 64 px LUT, once for the run.
    Its exports go to the run's export cache: a session fixture is made before any test's
    `shared_export_cache` has set BENCH_CACHE, which would leave them in the user's cache."""
    from orchestrator.searchjob.finish import finish_search
    from orchestrator.searchjob.job import SearchInputs, SearchJob
    from orchestrator.searchjob.targets import Asked
    from search.nas.predictor import LatencyPredictor
    from search.nas.strategies import SearchSettings
    from search.space import load_space
    from search.space.sampling import max_config, min_config
    from search.training import distributed
    from tests.lut_factory import sized_lut

    def search(out: Path) -> None:
        tiny = load_space("tiny")
        lut = sized_lut(tiny, device={"name": "host", "platform": "host", "backend": "pte", "runtime": {"threads": 1}, "description": "this machine", "facts": {}})
        lut_path = out.parent / "tiny-search-lut.json"
        lut_path.write_text(json.dumps(lut))
        predictor = LatencyPredictor(lut, tiny)
        # The budget and settings of test_search_cli's delivery (its FAST, middle_budget): the same
        # winner, so that its exports are the run's cache hits there.
        budget = round((predictor.predict(min_config(tiny, 64)) + predictor.predict(max_config(tiny, 64))) / 2, 2)
        settings = SearchSettings(population=4, generations=2, parents=2, coarse_samples=2000)
        asked = Asked.of([(lut_path, {"latency": (budget, "--latency-ms")})])
        job = SearchJob(SearchInputs(tiny_checkpoint, asked, out), settings, None, lambda m: None, distributed.init(prefer_gpu=False))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("BENCH_CACHE", str(export_cache))
            finish_search(job, job.run(resume=False), None, lambda m: None)

    return made_once(run_folder / "search", search)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """As OMP_NUM_THREADS=1 above, where the shell had set it to more."""
    import torch

    torch.set_num_threads(1)


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


@pytest.fixture(scope="session")
def cli_built_once() -> Iterator[None]:
    """typer builds `bench`'s click command anew on every call of the app, from every command's
    signature (15-30 ms of evaluating string annotations); a user's `bench` calls it once, but the
    suite runs `bench` in-process over a thousand times (most of them fuzzing examples), so the
    command is built once per worker here. The app is complete once imported, and no test adds a
    command to it; a `bench` subprocess still builds its own, as a user's does."""
    import functools

    import typer.main

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.main, "get_command", functools.cache(typer.main.get_command))
        yield


@pytest.fixture
def bench_cli(monkeypatch, capsys, cli_built_once):
    """Run `bench ARGS...` in this process through the real entry point (expected errors become
    one line on stderr and exit 2), returning its exit code and output."""
    from orchestrator.cli import common
    from orchestrator.cli.app import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr("sys.argv", ["bench", *args])
        # The consoles are made once, at import, by whichever test imported the CLI first (under
        # xdist, in another order than alone): each call gets the width its test asks for, as a
        # terminal of $COLUMNS would.
        for console in (common.console, common.errors):
            monkeypatch.setattr(console, "width", int(os.environ.get("COLUMNS", "80")))
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture
def bench(bench_cli, tmp_path: Path, monkeypatch):
    """`bench` run in an empty folder, with its own LUT store (and the run's export cache)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_LUTS", str(tmp_path / "luts"))
    return bench_cli


@pytest.fixture
def without_ios_extra(monkeypatch) -> None:
    """As if `pip install -e .` ran without the `ios` extra: pymobiledevice3 and everything of ours
    that imports it cannot be imported (already imported modules are hidden for the test)."""
    import sys

    for name in [n for n in sys.modules if n == "pymobiledevice3" or n.startswith("pymobiledevice3.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pymobiledevice3", None)
    for name in [n for n in sys.modules if n.startswith("orchestrator.measure.runners.ios.")]:
        monkeypatch.delitem(sys.modules, name)
