"""Every import points down the data flow (ARCHITECTURE.md): articles -> index -> retrieval -> reply -> surfaces."""

from __future__ import annotations

import ast
from pathlib import Path

import kbsuggest

PACKAGE = Path(kbsuggest.__file__).parent
LAYERS: list[set[str]] = [
    {"_version", "errors"},
    {"text"},  # normalisation, language, tokens: shared by every stage
    {"privacy", "articles", "encoders", "database"},
    {"analysis", "config", "index", "lint"},
    {"feedback", "retrieval"},
    {"conversation"},
    {"reply"},
    {"evaluation", "kb"},
    {"replica"},  # a knowledge base in PostgreSQL, kept current by itself
    {"registry"},  # many knowledge bases by name, sharing the models
    {"tools"},
    {"surfaces", "adapters"},  # adapters: to agent frameworks, each an optional extra
    {"cli"},
]
"""A unit (a subpackage or a top-level module of kbsuggest) imports only itself and units of lower layers."""


def unit(module: str) -> str:
    return module.split(".")[1]


def imports(path: Path) -> set[str]:
    """The kbsuggest modules `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kbsuggest."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kbsuggest."))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    units -= {"__init__", "__pycache__"}
    assert units == set().union(*LAYERS)


def test_every_import_points_down_the_flow() -> None:
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the public names, re-exported
        source = unit("kbsuggest." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for target in sorted(imports(path)):
            if unit(target) != source and layer[unit(target)] >= layer[source]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert wrong == []
