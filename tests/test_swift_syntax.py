"""The iOS benchmark app's Swift: every file parses, and the core builds and passes its tests.

Where a `swift` compiler is on PATH (Swift 5.9 or newer, macOS or Linux), `swift test` builds the
`BenchCore` package of `ios_bench/Package.swift` and runs its XCTests. Everywhere else (CI has no
Swift compiler) a tree-sitter parse is what catches a syntax error in `ios_bench/`, Package.swift
included, before someone builds it: it checks syntax only, not types or API names.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import tree_sitter_swift
from tree_sitter import Language, Parser

REPO = Path(__file__).resolve().parent.parent
IOS_BENCH = REPO / "ios_bench"
PACKAGE = IOS_BENCH / "Package.swift"
# Hidden folders are build output (SwiftPM's .build holds Swift files it generates).
SWIFT_FILES = sorted(
    path for path in IOS_BENCH.rglob("*.swift")
    if not any(part.startswith(".") for part in path.relative_to(IOS_BENCH).parts)
)
SWIFT = Language(tree_sitter_swift.language())
SWIFT_TEST_TIMEOUT_S = 1200


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

    `.target(name: "A", dependencies: ["B"], path: "A")` gives
    `(".target", {"name": ["A"], "dependencies": ["B"], "path": ["A"]})`. Comments are not calls.
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


def test_the_app_has_swift_sources():
    assert SWIFT_FILES, "no .swift file found under ios_bench/"
    assert PACKAGE in SWIFT_FILES, "ios_bench/Package.swift is missing, or not parsed"


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


def test_the_package_declares_the_core_and_its_tests():
    source = PACKAGE.read_bytes()
    calls = manifest_calls(source)

    assert source.startswith(b"// swift-tools-version: 5.9\n"), "Package.swift must start with its tools version, 5.9"
    assert declares(calls, ".library", name=["BenchCore"], targets=["BenchCore"]), "no BenchCore library product"
    assert declares(calls, ".target", name=["BenchCore"], path=["BenchCore"]), "no BenchCore target at BenchCore/"
    assert declares(
        calls, ".testTarget", name=["BenchCoreTests"], dependencies=["BenchCore"], path=["BenchCoreTests"]
    ), "no BenchCoreTests test target at BenchCoreTests/ depending on BenchCore"
    assert {".iOS", ".macOS"} <= {name for name, _ in calls}, "Package.swift names no iOS and macOS platforms"
    assert (IOS_BENCH / "BenchCore").is_dir() and (IOS_BENCH / "BenchCoreTests").is_dir()


def test_the_manifest_check_fails_when_a_target_goes_missing():
    calls = manifest_calls(
        b'let package = Package(name: "BenchCore", targets: [\n'
        b'    // .testTarget(name: "BenchCoreTests", dependencies: ["BenchCore"], path: "BenchCoreTests"),\n'
        b'    .target(name: "BenchCore", path: "Sources"),\n'
        b"])\n"
    )

    assert declares(calls, ".target", name=["BenchCore"])
    assert not declares(calls, ".target", name=["BenchCore"], path=["BenchCore"])
    assert not declares(calls, ".testTarget", name=["BenchCoreTests"])


@pytest.mark.skipif(shutil.which("swift") is None, reason="no swift compiler on PATH: the parse tests stand in for it")
def test_swift_test_builds_the_core_and_passes(tmp_path):
    """`swift test` on the package, built under tmp_path so that no .build folder is left in ios_bench/."""
    command = ["swift", "test", "--package-path", str(IOS_BENCH), "--scratch-path", str(tmp_path / "build")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=SWIFT_TEST_TIMEOUT_S)

    assert done.returncode == 0, f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-6000:]}"
