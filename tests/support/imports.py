"""What a package's source imports, read from its syntax trees (nothing is imported).

Layering tests use this to check that imports point down: every ``import`` and
``from ... import`` statement counts, including those inside functions, and
relative imports are resolved against the module's own package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT_PACKAGE = "records_service"


@dataclass(frozen=True)
class ImportLine:
    """One imported module (or name from a package), and where it is imported."""

    path: Path
    line: int
    module: str


def _module_name(path: Path, package_dir: Path, package: str) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    # A relative import counts from the module's package; ``__init__`` is its package.
    drop = node.level - 1 if is_package else node.level
    anchor = base[: len(base) - drop] if drop else base
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imports_in(path: Path, module: str) -> Iterator[ImportLine]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportLine(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node, module, is_package)
            # ``from pkg import mod`` may name a module, so count ``pkg.mod`` too.
            for alias in node.names:
                yield ImportLine(path, node.lineno, f"{source}.{alias.name}")


def package_imports(package_dir: Path, package: str) -> list[ImportLine]:
    """Every import made by the modules under ``package_dir`` (named ``package``)."""
    found: list[ImportLine] = []
    for path in sorted(package_dir.rglob("*.py")):
        found.extend(_imports_in(path, _module_name(path, package_dir, package)))
    return found


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)
