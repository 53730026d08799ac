"""The service's parts import each other in one direction only (docs/architecture.md).

A *part* is a subpackage of ``records_service`` or one of its top-level modules.
Every part belongs to one layer; a part may import parts of its own layer or of a
layer below, never above, and the imports between parts form no cycle (not even
inside a layer). The imports are read from the source (see ``support.imports``):
imports inside functions and under ``TYPE_CHECKING`` count as well.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

import records_service
from support.imports import ROOT_PACKAGE, ImportLine, package_imports

SOURCE_DIR = Path(records_service.__file__).parent
# Top layer first. The package itself (``records_service/__init__.py``, which holds
# the version) is the base of everything.
LAYERS: dict[str, tuple[str, ...]] = {
    "entry points": ("__main__", "cli", "asgi"),
    "application": ("app", "intake"),
    "faces": ("api", "web"),
    "runtime": ("runtime",),
    "migrations": ("migrations",),
    "use cases": ("reports", "search", "retention", "backup", "imports"),
    "domain": ("finance", "transparency", "records", "contracts", "audit", "auth", "notes"),
    "engines": ("indexing", "storage", "extraction"),
    "base": (
        "settings",
        "db",
        "errors",
        "clock",
        "pagination",
        "sqltypes",
        "cpus",
        "bounds",
        "dates",
        "",
    ),
}
DOMAIN = (
    "records",
    "contracts",
    "finance",
    "transparency",
    "retention",
    "audit",
    "auth",
    "notes",
    "search",
    "backup",
    "imports",
    "reports",
)
BELOW_DOMAIN = ("indexing", "storage", "extraction")
NEVER_FROM_DOMAIN = ("cli", "runtime", "api", "web")

Edges = dict[str, dict[str, list[str]]]


def part_of(module: str, source_dir: Path = SOURCE_DIR) -> str | None:
    """The part a dotted module name belongs to (``""`` for the package itself);
    ``None`` outside the service."""
    names = module.split(".")
    if names[0] != ROOT_PACKAGE:
        return None
    if len(names) == 1:
        return ""
    first = names[1]
    is_part = (source_dir / first).is_dir() or (source_dir / f"{first}.py").is_file()
    # ``from records_service import __version__`` names something in ``__init__``.
    return first if is_part else ""


def _importer(line: ImportLine, source_dir: Path) -> str:
    relative = line.path.relative_to(source_dir).parts
    name = relative[0].removesuffix(".py")
    return "" if name == "__init__" else name


def part_edges(source_dir: Path = SOURCE_DIR) -> Edges:
    """For each part, the parts it imports, each with where (``file:line``)."""
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for line in package_imports(source_dir, ROOT_PACKAGE):
        importer, imported = _importer(line, source_dir), part_of(line.module, source_dir)
        if imported is not None and imported != importer:
            where = f"{line.path.relative_to(source_dir)}:{line.line}"
            edges[importer][imported].append(where)
    return edges


def find_cycle(edges: Edges) -> list[str] | None:
    """One cycle of imports between parts, as the parts in order; ``None`` if none."""
    done: set[str] = set()

    def visit(part: str, path: list[str]) -> list[str] | None:
        if part in path:
            return [*path[path.index(part) :], part]
        if part in done:
            return None
        for imported in sorted(edges.get(part, {})):
            cycle = visit(imported, [*path, part])
            if cycle is not None:
                return cycle
        done.add(part)
        return None

    for part in sorted(edges):
        cycle = visit(part, [])
        if cycle is not None:
            return cycle
    return None


@pytest.fixture(scope="module")
def service_edges() -> Edges:
    """The service's own imports, read once for this module's tests."""
    return part_edges()


def _rank() -> dict[str, int]:
    return {part: depth for depth, parts in enumerate(LAYERS.values()) for part in parts}


def _parts_on_disk() -> set[str]:
    found = {p.stem for p in SOURCE_DIR.glob("*.py") if p.stem != "__init__"}
    found |= {p.name for p in SOURCE_DIR.iterdir() if (p / "__init__.py").is_file()}
    return found


def test_every_part_has_a_layer() -> None:
    listed = set(_rank()) - {""}
    assert _parts_on_disk() == listed


def _names_part(text: str, part: str) -> bool:
    return any(f"{part}{end}" in text for end in ("/", ".py", "`"))


def test_the_maps_name_every_part() -> None:
    # The README's Development tree and docs/architecture.md are where a newcomer
    # looks first; a part missing from them is a part they cannot find.
    root = SOURCE_DIR.parents[1]
    readme, architecture = root / "README.md", root / "docs" / "architecture.md"
    if not readme.is_file():
        pytest.skip("the package is not run from its source tree")
    tree = readme.read_text().split("\nsrc/records_service/\n", 1)[1].split("```", 1)[0]
    layers = architecture.read_text().split("## Layers", 1)[1].split("## ", 1)[0]
    missing = [
        (part, where)
        for part in sorted(_parts_on_disk())
        for where, text in (("README.md", tree), ("docs/architecture.md", layers))
        if not _names_part(text, part)
    ]
    assert missing == []


def test_no_import_cycle_between_parts(service_edges: Edges) -> None:
    edges = service_edges
    cycle = find_cycle(edges)
    assert cycle is None, cycle[0] + "".join(
        f" -({edges[a][b][0]})-> {b}" for a, b in pairwise(cycle)
    )


def test_imports_point_down_the_layers(service_edges: Edges) -> None:
    rank = _rank()
    upward = [
        f"{where}: {importer} imports {imported}"
        for importer, imports in service_edges.items()
        for imported, places in imports.items()
        for where in places
        if rank.get(imported, -1) < rank.get(importer, -1)
    ]
    assert upward == []


@pytest.mark.parametrize("package", DOMAIN + BELOW_DOMAIN)
def test_domain_packages_never_import_a_face_or_the_runtime(
    package: str, service_edges: Edges
) -> None:
    assert (SOURCE_DIR / package / "__init__.py").is_file()
    faces = {
        f"{where}: imports {imported}"
        for imported, places in service_edges.get(package, {}).items()
        if imported in NEVER_FROM_DOMAIN
        for where in places
    }
    assert sorted(faces) == []


@pytest.mark.parametrize("package", DOMAIN + BELOW_DOMAIN)
def test_domain_packages_do_not_import_click(package: str) -> None:
    found = [
        f"{line.path.name}:{line.line}"
        for line in package_imports(SOURCE_DIR / package, f"{ROOT_PACKAGE}.{package}")
        if line.module == "click" or line.module.startswith("click.")
    ]
    assert found == []


def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / ROOT_PACKAGE
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_cycle_through_a_relative_import_is_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "__version__ = '1'\n",
            "alpha/__init__.py": "",
            "alpha/one.py": "from ..beta import two\n",
            "beta/__init__.py": "",
            "beta/two.py": "def f():\n    from records_service.gamma import g\n",
            "gamma.py": "from records_service.alpha.one import x\nfrom . import __version__\n",
        },
    )
    edges = part_edges(package)
    assert find_cycle(edges) == ["alpha", "beta", "gamma", "alpha"]
    assert "" in edges["gamma"]  # the package's own __init__ is a part, not a cycle


def test_imports_without_a_cycle_pass(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "alpha.py": "from records_service import beta\nimport records_service.gamma\n",
            "beta.py": "from records_service.gamma import g\n",
            "gamma.py": "import os\n",
        },
    )
    edges = part_edges(package)
    assert {part: sorted(imported) for part, imported in edges.items()} == {
        "alpha": ["beta", "gamma"],
        "beta": ["gamma"],
    }
    assert find_cycle(edges) is None
