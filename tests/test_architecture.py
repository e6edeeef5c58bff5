"""The shape of the house (docs/architecture.md) that import-linter does not check.

- A package uses another package only through its public face (its ``__init__`` exports):
  no ``from aimass_lab.<other>._private import ...``. The top-level private modules
  (``aimass_lab._io``, ``_cpu``, ``_display``, ``_version``, ``_callable_module``) are the
  root package's own and shared by all of it.
- No module over 500 lines and no function with a body over 80 lines, unless a comment
  ``# Long: <reason>`` says why at the top of the module or of the function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aimass_lab"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
REASON = "# Long:"


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_package_imports_another_package_private_module() -> None:
    graph = grimp.build_graph("aimass_lab")
    offenders = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            parts = imported.split(".")
            is_subpackage_module = len(parts) > 2
            if not is_subpackage_module or _package_of(importer) == _package_of(imported):
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    offenders.append(
                        f"{importer}:{detail['line_number']}: {detail['line_contents']}"
                    )
    assert not offenders, (
        "import these from the package's public face (add them to its __init__):\n"
        + "\n".join(offenders)
    )


def test_no_private_name_crosses_a_package() -> None:
    """``from aimass_lab.x import _name`` reaches into x's privates too."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _package_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "aimass_lab."
            ):
                continue
            if _package_of(node.module or "") == own:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}")
    assert not offenders, "private names used across packages:\n" + "\n".join(offenders)


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int]:
    body = node.body
    first = body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    start = (first.end_lineno or first.lineno) + 1 if docstring and len(body) > 1 else first.lineno
    return start, (node.end_lineno or node.lineno) - start + 1


def test_modules_and_functions_stay_small_or_say_why() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        name = path.relative_to(ROOT)
        if len(lines) > MAX_MODULE_LINES and not any(
            line.startswith(REASON) for line in lines[:40]
        ):
            offenders.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            start, length = _body_lines(node)
            # the reason may stand before the docstring or after it
            head = lines[node.body[0].lineno - 2 : start + 3]
            if length > MAX_FUNCTION_LINES and not any(REASON in line for line in head):
                offenders.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert not offenders, (
        f"split these (modules <= {MAX_MODULE_LINES} lines, function bodies <= "
        f"{MAX_FUNCTION_LINES}), or write '{REASON} <reason>' at their top:\n"
        + "\n".join(offenders)
    )


def test_test_modules_have_unique_basenames() -> None:
    """pytest imports test modules by basename (rootdir ``prepend`` mode): two
    ``test_x.py`` in different folders stop the whole run at collection."""
    names: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("*.py"):
        if path.name.startswith("test_") or path.name.endswith("_helpers.py"):
            names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    clashes = {name: paths for name, paths in names.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"
