"""The iOS benchmark app's Swift: the BenchCore package builds without a warning and passes its XCTests.

Where a Swift toolchain exists (`swift` on PATH, else `/opt/swift/bin/swift`), one `swift test` run
builds `ios_bench/BenchCore` (Swift 6 language mode, so data races are errors) with warnings as
errors and runs its XCTests; a compiler error, a warning or a failing test fails this file with the
compiler's or XCTest's output. The build folder is the package's own `.build` (git-ignored), so a
second run only rebuilds what changed. Without a toolchain (CI machines have one, under /opt/swift) that test is skipped, and
the rest of this file still runs.

The app shell (`ios_bench/App/`) imports SwiftUI, UIKit and Core ML, which exist only on Apple
platforms, so no compiler here can build it: a tree-sitter parse of every Swift file catches syntax
errors in it (syntax only, not types or API names), and in the package too where there is no
toolchain.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tree_sitter_swift
from tree_sitter import Language, Parser

pytestmark = pytest.mark.swift

REPO = Path(__file__).resolve().parent.parent
IOS_BENCH = REPO / "ios_bench"
PACKAGE_DIR = IOS_BENCH / "BenchCore"
MANIFEST = PACKAGE_DIR / "Package.swift"
# Hidden folders are build output (SwiftPM's .build holds Swift files it generates).
SWIFT_FILES = sorted(
    path for path in IOS_BENCH.rglob("*.swift")
    if not any(part.startswith(".") for part in path.relative_to(IOS_BENCH).parts)
)
SWIFT = Language(tree_sitter_swift.language())
TOOLCHAIN_FALLBACK = Path("/opt/swift/bin/swift")
SWIFT_TEST_TIMEOUT_S = 900


def find_swift() -> Path | None:
    """`swift` on PATH, else the toolchain unpacked under /opt/swift, else None."""
    on_path = shutil.which("swift")
    if on_path:
        return Path(on_path)
    if os.access(TOOLCHAIN_FALLBACK, os.X_OK):
        return TOOLCHAIN_FALLBACK
    return None


def swift_test_command(swift: Path) -> list[str]:
    return [str(swift), "test", "--package-path", str(PACKAGE_DIR), "-Xswiftc", "-warnings-as-errors"]


def diagnostics(output: str) -> list[str]:
    """The compiler's and XCTest's `error:` and `warning:` lines, each once, in order."""
    return list(dict.fromkeys(line for line in output.splitlines() if re.match(r"\S.*\b(error|warning): ", line)))


def xctest_summary(output: str) -> tuple[int, int] | None:
    """(tests, failures) of the last XCTest summary line: the one over all suites."""
    found = re.findall(r"Executed (\d+) tests?, with (\d+) failures?", output)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def syntax_errors(source: bytes) -> list[str]:
    """`line:column: problem` for each ERROR or MISSING node, outermost only, in source order."""
    found = []
    pending = [Parser(SWIFT).parse(source).root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            row, column = node.start_point
            problem = f"missing {node.type}" if node.is_missing else "syntax error"
            found.append((row + 1, column + 1, problem))
        elif node.has_error:
            pending.extend(node.children)
    return [f"{line}:{column}: {problem}" for line, column, problem in sorted(found)]


def manifest_calls(source: bytes) -> list[tuple[str, dict[str, list[str]]]]:
    """Each call of a package manifest, as `(callee, {label: its string literals})`, in source order.

    `.target(name: "A", dependencies: ["B"])` gives `(".target", {"name": ["A"], "dependencies": ["B"]})`.
    Comments are not calls.
    """
    calls = []
    pending = [Parser(SWIFT).parse(source).root_node]
    while pending:
        node = pending.pop()
        pending.extend(reversed(node.children))
        if node.type != "call_expression" or len(node.children) < 2:
            continue
        callee, suffix = node.children[0], node.children[-1]
        arguments = {}
        for argument in (a for s in suffix.children if s.type == "value_arguments" for a in s.children):
            label = argument.child_by_field_name("name")
            value = argument.child_by_field_name("value")
            if label is not None and value is not None:
                arguments[label.text.decode()] = strings_in(value)
        calls.append((callee.text.decode(), arguments))
    return calls


def strings_in(node) -> list[str]:
    """The text of every string literal in `node`, in source order."""
    if node.type == "line_str_text":
        return [node.text.decode()]
    return [text for child in node.children for text in strings_in(child)]


def declares(calls, callee: str, **expected: list[str]) -> bool:
    """Whether some call to `callee` has every expected label, each with at least those strings."""
    return any(
        name == callee and all(set(want) <= set(arguments.get(label, [])) for label, want in expected.items())
        for name, arguments in calls
    )


@pytest.mark.slow
def test_swift_test_builds_the_package_without_warnings_and_its_xctests_pass():
    swift = find_swift()
    if swift is None:
        pytest.skip(f"no Swift toolchain (no swift on PATH, no {TOOLCHAIN_FALLBACK}): the parse tests stand in for it")
    command = swift_test_command(swift)
    env = {**os.environ, "PATH": f"{swift.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=SWIFT_TEST_TIMEOUT_S, env=env, cwd=REPO)
    output = done.stdout + done.stderr
    summary = xctest_summary(output)
    report = "\n".join([f"$ {' '.join(command)}  (exit {done.returncode})", *diagnostics(output)[:60], "--- last output:", output[-4000:]])

    assert done.returncode == 0, report
    assert summary is not None and summary[0] > 0, "swift test ran no XCTest:\n" + report
    assert summary[1] == 0, report


def test_the_toolchain_is_found_under_opt_swift_when_swift_is_not_on_path(monkeypatch, tmp_path):
    unpacked = tmp_path / "swift"
    unpacked.write_text("#!/bin/sh\n")
    unpacked.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys.modules[__name__], "TOOLCHAIN_FALLBACK", unpacked)

    assert find_swift() == unpacked


def test_without_a_toolchain_none_is_found(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys.modules[__name__], "TOOLCHAIN_FALLBACK", tmp_path / "missing" / "swift")

    assert find_swift() is None


def test_swift_test_treats_warnings_as_errors():
    assert swift_test_command(Path("swift"))[-2:] == ["-Xswiftc", "-warnings-as-errors"]


def test_the_xctest_summary_is_the_last_one_over_all_suites():
    output = (
        "\t Executed 6 tests, with 0 failures (0 unexpected) in 0.1 (0.1) seconds\n"
        "\t Executed 58 tests, with 2 failures (2 unexpected) in 0.3 (0.3) seconds\n"
    )

    assert xctest_summary(output) == (58, 2)


def test_compiler_diagnostics_are_picked_out_of_the_build_log():
    output = (
        "[3/20] Compiling BenchCore Contract.swift\n"
        "/x/Contract.swift:73:15: error: type 'BenchResult' does not conform to the 'Sendable' protocol\n"
        "/x/Heartbeat.swift:9:5: warning: variable 'beat' was never mutated\n"
        "   |     `- warning: variable 'beat' was never mutated\n"
        "/x/Contract.swift:73:15: error: type 'BenchResult' does not conform to the 'Sendable' protocol\n"
    )

    assert diagnostics(output) == [
        "/x/Contract.swift:73:15: error: type 'BenchResult' does not conform to the 'Sendable' protocol",
        "/x/Heartbeat.swift:9:5: warning: variable 'beat' was never mutated",
    ]


def test_the_app_and_the_package_have_swift_sources():
    assert any(path.parent == IOS_BENCH / "App" for path in SWIFT_FILES), "no .swift file in ios_bench/App/"
    assert MANIFEST in SWIFT_FILES, "ios_bench/BenchCore/Package.swift is missing, or not parsed"
    assert list((PACKAGE_DIR / "Sources" / "BenchCore").glob("*.swift")), "no sources in ios_bench/BenchCore/Sources/BenchCore/"
    assert list((PACKAGE_DIR / "Tests" / "BenchCoreTests").glob("*.swift")), "no tests in ios_bench/BenchCore/Tests/BenchCoreTests/"


@pytest.mark.parametrize("path", SWIFT_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_swift_file_parses(path):
    where = path.relative_to(REPO)
    errors = [f"{where}:{error}" for error in syntax_errors(path.read_bytes())]
    assert not errors, "Swift syntax errors:\n" + "\n".join(errors)


def test_a_syntax_error_is_reported_with_its_line_and_column():
    broken = b"struct Fine {}\nfunc broken( {\n    let x = 1\n}\n"
    errors = syntax_errors(broken)
    assert errors and errors[0].startswith("2:")


def test_valid_swift_has_no_errors():
    assert syntax_errors(b"let answer = [1, 2, 3].reduce(0, +)\n") == []


def test_the_package_declares_the_core_and_its_tests_in_the_swift_6_mode():
    source = MANIFEST.read_bytes()
    calls = manifest_calls(source)

    assert re.match(rb"// swift-tools-version: ?6\.\d+\n", source), "Package.swift must start with a 6.x tools version (the Swift 6 language mode)"
    assert declares(calls, ".library", name=["BenchCore"], targets=["BenchCore"]), "no BenchCore library product"
    assert declares(calls, ".target", name=["BenchCore"]), "no BenchCore target"
    assert declares(calls, ".testTarget", name=["BenchCoreTests"], dependencies=["BenchCore"]), "no BenchCoreTests test target depending on BenchCore"
    assert {".iOS", ".macOS"} <= {name for name, _ in calls}, "Package.swift names no iOS and macOS platforms"


def test_the_manifest_check_fails_when_a_target_goes_missing():
    calls = manifest_calls(
        b'let package = Package(name: "BenchCore", targets: [\n'
        b'    // .testTarget(name: "BenchCoreTests", dependencies: ["BenchCore"]),\n'
        b'    .target(name: "BenchCore", path: "Sources"),\n'
        b"])\n"
    )

    assert declares(calls, ".target", name=["BenchCore"])
    assert not declares(calls, ".target", name=["BenchCore"], path=["Elsewhere"])
    assert not declares(calls, ".testTarget", name=["BenchCoreTests"])


def test_the_xcode_project_links_the_package_from_its_own_folder():
    spec = (IOS_BENCH / "project.yml").read_text()
    package = re.search(r"^packages:\n  BenchCore:\n    path: (\S+)$", spec, re.MULTILINE)

    assert package, "project.yml declares no local package BenchCore"
    assert package[1] != ".", "project.yml must not put the package in the project's own folder (XcodeGen loses products)"
    assert (IOS_BENCH / package[1] / "Package.swift").is_file(), f"project.yml's package path {package[1]} holds no Package.swift"
