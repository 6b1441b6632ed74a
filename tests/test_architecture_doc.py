"""ARCHITECTURE.md's module index lists exactly the product's modules, with their docstrings.

The index is generated from the tree (one line per module: the first paragraph of its
docstring, `__init__` files omitted). When a module is added, moved or removed, rewrite the
section with `python3 -m tests.test_architecture_doc --write`; this test fails until then.
"""
from __future__ import annotations

import ast
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "ARCHITECTURE.md")
PACKAGES = ["common", "ring", "storage", "proxy", "imagesvc", "compute", "identity", "network",
            "volume", "dashboard", "cli"]
HEADING = "## Module index"
PREAMBLE = "One line per module (the first paragraph of its docstring); `__init__` files omitted."


def _summary(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def render_index() -> str:
    """The module index section, as it should read."""
    lines = [HEADING, "", PREAMBLE, ""]
    for package in PACKAGES:
        for root, dirs, files in sorted(os.walk(os.path.join(REPO, package))):
            dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
            modules = sorted(f for f in files if f.endswith(".py") and f != "__init__.py")
            if not modules:
                continue
            rel = os.path.relpath(root, REPO).replace(os.sep, "/")
            lines += [f"**{rel}/**", ""]
            for name in modules:
                lines.append(f"- `{name}` — {_summary(os.path.join(root, name))}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _split_doc() -> tuple[str, str]:
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    rest = "" if end == -1 else text[end + 1:]
    return text[:start], rest


def test_every_module_has_a_docstring():
    missing = []
    for package in PACKAGES:
        for root, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py") and not _summary(os.path.join(root, name)):
                    missing.append(os.path.join(root, name))
    assert not missing, f"modules without a docstring: {missing}"


def test_module_index_matches_the_tree():
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    head, rest = _split_doc()
    written = text[len(head):len(text) - len(rest)]
    assert written.strip() == render_index().strip(), (
        "ARCHITECTURE.md's module index is stale: run python3 -m tests.test_architecture_doc "
        "--write")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        head, rest = _split_doc()
        with open(DOC, "w", encoding="utf-8") as out:
            out.write(head + render_index() + ("\n" + rest if rest else ""))
    else:
        print(render_index(), end="")
