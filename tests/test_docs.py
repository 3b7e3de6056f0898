"""The README is a front door and the docs hold what it leaves out: the README stays short, leads
with the tool rather than with measurements, and neither it nor any page under docs/ sends a reader
outside the repository. No markdown page of the repository (the apps' READMEs and the space
definitions' included) names a repository path that does not exist or a Python module or function
that cannot be imported, and what the pages say of the profile, the search and the quick path is
what the code does now."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TRACKED = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
ALL_PAGES = [ROOT / p for p in TRACKED if p.endswith(".md")]
FENCED = re.compile(r"^```.*?^```", flags=re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
SPAN = re.compile(r"`([^`]+)`")  # inline code, which may run over a line break
PLACEHOLDER = re.compile(r"[<>*{}$~…]|\.\.\.|\s")
MODULE = re.compile(r"(?<![\w./-])((?:orchestrator|search|infra|autovit_bench|benchmarks)(?:\.[A-Za-z_]\w*)+)")
PAPER = "AutoViT: Achieving Real-Time Vision Transformers on Mobile via Latency-aware Coarse-to-Fine Search"


def readme_lines() -> list[str]:
    return (ROOT / "README.md").read_text().splitlines()


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def prose(page: Path) -> str:
    return FENCED.sub("", page.read_text())


def test_the_readme_is_at_most_250_lines():
    assert len(readme_lines()) <= 250


def test_the_readme_dates_no_figure_and_its_first_screen_holds_no_measurement():
    text = "\n".join(readme_lines())
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", text), "dated figures belong in docs/figures.md"
    first_screen = "\n".join(readme_lines()[:40])
    assert not re.findall(r"\d+(?:\.\d+)?\s?(?:%|ms\b|s\b|min\b|GB\b)", first_screen)


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page))


def tracked_names(folder: Path) -> set[str]:
    """The first path component of every tracked file under `folder`: what a path relative to that
    folder can start with."""
    prefix = "" if folder == ROOT else f"{folder.relative_to(ROOT)}/"
    return {p[len(prefix):].split("/")[0] for p in TRACKED if p.startswith(prefix)}


def named_paths(page: Path) -> list[str]:
    """Inline code that names a file or folder of the repository (its first part is a tracked name
    of the repository root or of the page's folder): `search/space/definitions/README.md`, `luts/`,
    `BenchCore/Package.swift` in ios_bench/README.md; placeholders such as `luts/<device>/...` and
    commands are not paths."""
    starts = tracked_names(ROOT) | tracked_names(page.parent)
    return [s for s in CODE.findall(prose(page)) if not PLACEHOLDER.search(s) and s.split("/")[0] in starts and ("/" in s or "." in s)]


def exists(page: Path, path: str) -> bool:
    """The path is in the checkout (relative to the root or to the page's folder), or it is
    git-ignored there: a build's output, which a page may say where to find."""
    if (ROOT / path).exists() or (page.parent / path).exists():
        return True
    where = page.parent if path.split("/")[0] in tracked_names(page.parent) else ROOT
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=where).returncode == 0


def named_modules(page: Path) -> list[str]:
    """Dotted names of the toolkit's modules in inline code (`orchestrator.measure.contract`,
    `autovit_bench.Predictor`); code blocks are left to the tests that run them."""
    return [name for span in SPAN.findall(prose(page)) for name in MODULE.findall(span)]


def importable(dotted: str) -> bool:
    """The longest prefix of `dotted` that is a module imports, and the rest are attributes of it."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:i]))
        except ModuleNotFoundError:  # a parent is no package: a shorter prefix is the module
            spec = None
        if spec is not None:
            obj = importlib.import_module(".".join(parts[:i]))
            for attribute in parts[i:]:
                if not hasattr(obj, attribute):
                    return False
                obj = getattr(obj, attribute)
            return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_page_links_outside_the_repository(page):
    outside = [t for t in links(page) if re.match(r"[a-z]+:", t) or not (page.parent / t.split("#")[0]).resolve().is_relative_to(ROOT)]
    assert outside == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_linked_file_exists(page):
    assert [t for t in links(page) if not (page.parent / t.split("#")[0]).exists()] == []


@pytest.mark.parametrize("page", ALL_PAGES, ids=map(page_id, ALL_PAGES))
def test_every_path_a_page_names_exists(page):
    assert [p for p in named_paths(page) if not exists(page, p)] == []


@pytest.mark.parametrize("page", ALL_PAGES, ids=map(page_id, ALL_PAGES))
def test_every_module_a_page_names_imports(page):
    assert [m for m in named_modules(page) if not importable(m)] == []


def test_the_path_check_sees_the_paths_the_readme_names():
    named = named_paths(ROOT / "README.md")
    assert {"docs/guide.md", "docs/phones.md", "docs/figures.md", "luts/host/tiny/d7f47ca8390c6922.json"} <= set(named)


def test_the_path_check_sees_paths_relative_to_the_pages_folder():
    assert {"BenchCore/Package.swift", "App/", "project.yml"} <= set(named_paths(ROOT / "ios_bench" / "README.md"))


def test_the_path_check_lets_a_page_name_where_a_build_writes():
    page = ROOT / "ios_bench" / "README.md"
    assert "ios_bench/BenchCore/.build/" in named_paths(page) and exists(page, "ios_bench/BenchCore/.build/")
    assert not exists(page, "ios_bench/BenchCore/Package.rs")


def test_the_module_check_sees_the_modules_the_pages_name_even_over_a_line_break():
    assert "orchestrator.measure.contract.read_json" in named_modules(ROOT / "ios_bench" / "README.md")
    assert "autovit_bench.Predictor" in named_modules(ROOT / "docs" / "guide.md")


def test_a_module_name_is_importable_as_a_module_or_an_attribute_of_one():
    assert importable("orchestrator.measure.contract") and importable("orchestrator.measure.contract.summarize")
    assert importable("search.api.__all__")
    assert not importable("orchestrator.contract.summarize") and not importable("orchestrator.measure.contract.summarise")


def test_the_guide_names_the_run_directory_bench_search_defaults_to():
    from orchestrator.cli.search import default_run_dir
    from orchestrator.searchjob.targets import Asked

    named = re.search(r"\(default `(runs/search-<space>-<lut>-<budget>ms)/`", (ROOT / "docs" / "guide.md").read_text()).group(1)
    filled = named.replace("<space>", "tiny").replace("<lut>", "d7f47ca8390c6922").replace("<budget>", "0.885")
    asked = Asked.of([(ROOT / "luts" / "host" / "tiny" / "d7f47ca8390c6922.json", {"latency": (0.885, "--latency-ms")})])
    assert default_run_dir(asked) == Path(filled)


def test_the_phones_page_gives_the_number_of_sessions_a_profile_runs():
    from orchestrator.lut.profile import passes, session_groups, working_sets
    from orchestrator.lut.settings import PRESETS
    from orchestrator.plan.builder import build_plan
    from search.space import load_space

    counts = set()
    for preset in PRESETS.values():
        plan = build_plan(load_space(preset.space), preset.resolution)
        groups = [*session_groups(plan, preset.settings.per_stage_sessions), *working_sets(plan)]
        counts.add((len(groups), len(passes(groups, preset.settings.passes))))
    ((groups, sessions),) = counts  # both presets run the same sessions
    text = " ".join((ROOT / "docs" / "phones.md").read_text().split())
    assert f"A profile runs {sessions} sessions ({groups} groups" in text


def test_the_guide_counts_the_entries_and_networks_each_preset_s_plan_has():
    from orchestrator.lut.settings import PRESETS
    from orchestrator.plan.builder import build_plan
    from search.space import load_space

    full, quick = (build_plan(load_space(p.space), p.resolution) for p in (PRESETS["full"], PRESETS["quick"]))
    guide = " ".join(prose(ROOT / "docs" / "guide.md").split())
    assert f"({len(full.entries)} entries, {len(full.probes)} networks)" in guide
    assert f"XXS: {len(full.entries)} entries from {len(full.probes)} networks; tiny: {len(quick.entries)} from {len(quick.probes)} (" in guide
    assert f"tiny's {len(quick.probes)} networks" in guide and f"XXS's {len(full.probes)} networks" in guide
    assert f"the plan's every network (XXS: {len(full.probes)})" in guide
    timed = {pid for e in quick.entries for pid in (e.reference, e.variant) if pid}
    full_timed = {pid for e in full.entries for pid in (e.reference, e.variant) if pid}
    assert f"tiny: {len(quick.entries)} from {len(quick.probes)} ({len(full_timed)} and {len(timed)} of them timed" in guide
    assert f"the {len(timed)} it times export" in guide and f"its {len(quick.probes) - len(timed)} memory networks" in guide
    version_3 = build_plan(load_space(PRESETS["quick"].space), PRESETS["quick"].resolution, version=3)
    assert f"the float32 one exports its {len(version_3.probes)} in about 2.5 min (plan version 3, before the memory networks)" in guide


def test_the_guide_says_what_a_user_without_an_iphone_gets_and_which_host_devices_stand_in_for_phones():
    """No host device runs Core ML, the ones a user has without a phone are the registry's host
    devices, and the several-devices page's stand-ins are the benchmark's four."""
    import ast

    from orchestrator.export.backends import get_backend
    from orchestrator.measure.devices import load_devices

    benchmark = ast.parse((ROOT / "benchmarks" / "several_devices.py").read_text())  # read, not imported: it imports the whole search job
    LUTS = next(ast.literal_eval(n.value) for n in benchmark.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "LUTS")
    guide = " ".join(prose(ROOT / "docs" / "guide.md").split())
    hosts = {name for name, d in load_devices().items() if d.platform == "host"}
    assert "No host device stands in for Core ML" in guide and all(get_backend(load_devices()[h].backend).format != "coreml" for h in hosts)
    without = re.search(r"Without an iPhone you get LUTs, searches and timed models for this machine's devices \(([^)]*)\)", guide).group(1)
    assert set(re.findall(r"`([\w-]+)`", without)) == hosts
    stand_ins = re.search(r"The four are host devices standing in for phones(.*?)They stand in", guide).group(1)
    assert set(re.findall(r"`(host[\w-]*)`", stand_ins)) == set(LUTS)


def quick_path_sections(page: Path) -> list[str]:
    """The sections of a page whose heading names the quick path."""
    return [s for s in re.split(r"^#+ ", prose(page), flags=re.M)[1:] if "quick path" in s.partition("\n")[0].lower()]


def test_what_the_pages_say_of_the_quick_path_training_is_what_a_profile_prints():
    from orchestrator.cli.profile_view import QUICK_PATH

    sections = [s for page in ALL_PAGES for s in quick_path_sections(page)]
    said = [int(a or b) for s in sections for a, b in re.findall(r"(\d+) epochs\b|--epochs (\d+)", s)]
    assert said and set(said) == {QUICK_PATH["epochs"]}


def test_the_first_screen_sample_is_the_readme_s_first_lines():
    """docs/readme-first-screen.txt shows what a newcomer meets first: stale, it says a third thing."""
    sample = (ROOT / "docs" / "readme-first-screen.txt").read_text().splitlines()
    assert sample == readme_lines()[: len(sample)]


def test_the_readme_s_quick_path_figures_are_the_committed_run_s():
    """The README's figures of the printed quick path come from docs/quick_path.json, not from a
    run of a LUT the repository does not hold."""
    import json

    summary = json.loads((ROOT / "docs" / "quick_path.json").read_text())["summary"]
    test = re.search(r"test (\d+\.\d)% \[[^]]*\] of (\d+)", summary)
    ratio = re.search(r"= (\d\.\d+)x the ([\d.]+) ms budget", summary)
    readme = " ".join(prose(ROOT / "README.md").split())
    said = re.search(r"The quick path, as printed:\*\* the found model scores (\d+\.\d)% on (\d+) test digits and measures (\d\.\d+)x its ([\d.]+) ms budget", readme)
    assert said and said.groups() == (test[1], test[2], f"{float(ratio[1]):.2f}", ratio[2])


def test_the_readme_s_quick_path_times_are_the_committed_run_s_each_step_s():
    """Not "about 5 minutes": the seconds docs/quick_path.json records for data, training and search,
    as the run measured them (the machine is named beside them, figures.md dates them)."""
    import json

    steps = json.loads((ROOT / "docs" / "quick_path.json").read_text())["steps"]
    seconds = [s["seconds"] for s in steps if s["step"].split()[1] in ("data", "train", "search")]
    readme = " ".join(prose(ROOT / "README.md").split())
    said = re.search(r"data, training and search took (\d+) \+ (\d+) \+ (\d+) s on the development VM's two Xeon cores", readme)
    assert said and [float(x) for x in said.groups()] == seconds


def test_no_page_states_how_many_tests_passed():
    """A count of passed tests is stale with the next test written; the suite prints its own."""
    assert [page_id(p) for p in ALL_PAGES if re.search(r"\b\d[\d,]* (?:tests? )?passed\b", p.read_text())] == []


def test_the_readme_and_the_space_definitions_cite_the_autovit_paper_by_title_and_authors():
    for page in (ROOT / "README.md", ROOT / "search" / "space" / "definitions" / "README.md"):
        text = " ".join(page.read_text().split())
        assert PAPER in text and "Kong" in text and "International Journal of Computer Vision" in text


def test_the_repository_is_mit_licensed_and_says_so_in_its_package_metadata():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 autovit-bench contributors\n")
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"


def test_the_readme_says_the_optional_ios_extra_is_gpl_and_what_installs_it():
    after_the_first_screen = " ".join(readme_lines()[40:])
    assert "pymobiledevice3" in after_the_first_screen and "GPL-3.0" in after_the_first_screen
    assert "`./scripts/setup.sh --tests`" in after_the_first_screen and "`pip install .[ios]`" in after_the_first_screen


def test_bench_profile_s_help_and_the_guide_give_the_quick_profile_the_latest_time_figures_md_measured():
    """`bench profile --help` said ~3 min, the guide 8.4 min and the README about ten (issue 83,
    finding 18): one figure, the latest float32 quick profile docs/figures.md records, on the
    machine it names."""
    from orchestrator.cli.profile_options import QUICK

    seconds, machine = re.search(r"\((\d+) s on a (2-core [\w ]+? VM)", QUICK.help).groups()
    figures = " ".join((ROOT / "docs" / "figures.md").read_text().split())
    sitting = figures[figures.index("**Before and after the deferred code generation"):]
    assert machine in sitting.partition("|")[0] and machine == "2-core AMD EPYC VM"
    assert re.search(rf"\| `bench profile --device host --quick` \(float32\) \| \d+ s \| {seconds} s \|", sitting) and seconds == "129"
    guide = " ".join(prose(ROOT / "docs" / "guide.md").split())
    assert f"The whole quick profile, memory included, took {seconds} s on a {machine}, the latest measured" in guide
    int8 = re.search(r"\| `bench profile --device host-int8 --quick` \| \d+ s \| (\d+) s \|", sitting).group(1)
    assert f"the int8 quick profile took {int8} s against {seconds} s for the float32 one" in guide
    assert "8.4 min" not in guide and "~3 min" not in QUICK.help


def test_the_guide_s_several_devices_example_uses_current_luts_at_their_median_subnet_s_prediction():
    """The example held one model to `d7f47ca8` and `4a8e952c` after `aa5a9101` and `1ab8c104` had
    superseded them (issue 83, finding 18); its budgets are each LUT's median subnet's prediction."""
    from orchestrator.cli.profile_view import suggested_budget_ms
    from orchestrator.lut.store import load_lut, superseded

    section = (ROOT / "docs" / "guide.md").read_text().partition("## One model for several phones")[2].partition("\n## ")[0]
    command = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    budgets = dict(re.findall(r"--budget (\w+)=([0-9.]+)", command))
    assert list(budgets) == ["aa5a9101", "1ab8c104", "0fd6177a", "722a8793"]
    replaced = superseded(ROOT / "luts")
    assert [lut for lut in budgets if any(full.startswith(lut) for full in replaced)] == []
    for lut, ms in budgets.items():
        assert float(ms) == pytest.approx(suggested_budget_ms(load_lut(lut)), rel=0.02), lut
    assert "d7f47ca8" not in command and "4a8e952c" not in section.partition("**How well it holds**")[0]
