"""The package as a user installs it: the wheel built from this tree, installed into a fresh virtual
environment that reuses this environment's packages (a .pth file, nothing downloaded), run from an
empty folder. Package data (space definitions, schemas, the device registry, the committed LUTs)
must be inside the wheel, and a LUT measured there lands in `./luts/<device>/<space>/`, as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.exports

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel; this environment's site-packages lie behind it on sys.path."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a copy of the tracked files, so the build writes nothing into the checkout
    for name in run("git", "ls-files", "pyproject.toml", "README.md", "infra", "search", "orchestrator", "luts", cwd=ROOT).split():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():  # search/luts, the committed LUTs as package data
            (source / name).symlink_to(os.readlink(ROOT / name))
        else:
            (source / name).write_bytes((ROOT / name).read_bytes())
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", base / "dist", source, cwd=base)
    (wheel,) = (base / "dist").glob("autovit_bench-*.whl")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    site = Path(run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base).strip())
    (site / "reuse-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel, cwd=base)
    return venv


@pytest.fixture
def empty_folder(tmp_path, shared_export_cache) -> tuple[Path, dict[str, str]]:
    """An empty working folder and an environment without this checkout on any path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_LUTS", "VIRTUAL_ENV")}
    env.update(BENCH_CACHE=str(shared_export_cache), HOME=str(tmp_path / "home"))
    folder = tmp_path / "work"
    folder.mkdir()
    return folder, env


@pytest.mark.slow
def test_the_wheel_is_what_runs_not_the_checkout(installed, empty_folder):
    folder, env = empty_folder
    where = run(installed / "bin" / "python", "-c", "import orchestrator, search; print(orchestrator.__file__, search.__file__)", cwd=folder, env=env)
    assert all(Path(p).is_relative_to(installed) for p in where.split())


@pytest.mark.slow
def test_the_committed_luts_load_by_id_from_the_installed_package_in_an_empty_folder(installed, empty_folder):
    folder, env = empty_folder
    code = "from search.api import load_lut, Predictor; print(Predictor(load_lut('d0fb1865')).lut['id'])"
    assert run(installed / "bin" / "python", "-c", code, cwd=folder, env=env).strip() == "d0fb186589faa0c4"


@pytest.mark.slow
def test_the_installed_bench_lists_the_spaces_from_its_package_data(installed, empty_folder):
    folder, env = empty_folder
    listed = run(installed / "bin" / "bench", "space", "list", cwd=folder, env=env)
    assert all(name in listed for name in ("xxs", "xs", "tiny"))


@pytest.mark.slow
@pytest.mark.exports
def test_the_installed_bench_measures_on_the_host_and_writes_the_lut_under_luts_in_the_working_folder(installed, empty_folder, tmp_path):
    """A one-network transfer from the tiny plan's LUT at 64 px, whose network and FLOP counts the
    transfer tests leave in the run's export cache."""
    from orchestrator.lut.store import save_lut
    from search.space import load_space
    from tests.lut_factory import plan_lut

    folder, env = empty_folder
    source = save_lut(plan_lut(load_space("tiny"), resolution=64), tmp_path / "source")
    run(installed / "bin" / "bench", "profile", "--device", "host-2t", "--from", source, "--networks", "1", cwd=folder, env=env)
    (lut,) = (folder / "luts" / "host-2t" / "tiny").glob("*.json")
    doc = json.loads(lut.read_text())
    assert (doc["device"]["name"], doc["method"], doc["resolution"], lut.stem) == ("host-2t", "transfer", 64, doc["id"])
    assert sorted(p.name for p in (folder / "luts").iterdir()) == ["host-2t"]  # the LUT alone: no index file to keep in step
