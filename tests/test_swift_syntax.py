"""Every Swift file of the iOS benchmark app parses.

CI has no Swift compiler, so a tree-sitter parse is what catches a syntax error in `ios_bench/`
before someone builds it in Xcode. It checks syntax only: types and API names are Xcode's job.
"""

from pathlib import Path

import pytest
import tree_sitter_swift
from tree_sitter import Language, Parser

REPO = Path(__file__).resolve().parent.parent
SWIFT_FILES = sorted((REPO / "ios_bench").rglob("*.swift"))
SWIFT = Language(tree_sitter_swift.language())


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


def test_the_app_has_swift_sources():
    assert SWIFT_FILES, "no .swift file found under ios_bench/"


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
