"""docs/security.md names the tests that cover each threat: those tests must exist, and every
hardening test file must be named there (a new one needs its line in the threat table)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DOC = PROJECT / "docs" / "security.md"
# `tests/x.py::test_name` or, after one in the same table cell, `::test_name`
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def references() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for line in DOC.read_text().splitlines():
        for cell in line.split("|"):
            current = None
            for file, name in REFERENCE.findall(cell):
                current = file or current
                if current and (file or name):
                    found.append((current, name or None))
    return found


def test_every_test_named_in_the_security_document_exists():
    missing = []
    for file, name in references():
        path = PROJECT / file
        if not path.is_file():
            missing.append(file)
        elif name is not None and name not in functions_in(path):
            missing.append(f"{file}::{name}")
    assert references(), "no test references found in docs/security.md"
    assert missing == []


def test_every_hardening_test_file_is_in_the_security_document():
    named = {file for file, _ in references()}
    files = {
        path.relative_to(PROJECT).as_posix()
        for path in (PROJECT / "tests" / "hardening").glob("test_*.py")
    }
    assert files - named - {"tests/hardening/test_security_docs.py"} == set()
