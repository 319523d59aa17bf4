"""The import contracts: the layers of `pyproject.toml`'s [tool.importlinter] (import-linter),
no import circles between modules, and no module importing another module's `_private` names.

grimp (import-linter's graph) counts every import statement, including those inside functions,
so a circle cannot hide behind a lazy import, nor behind `if TYPE_CHECKING:` (an annotation's
import is still a dependency a reader has to follow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlm_explorer"


def test_import_linter_contracts_are_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def test_no_import_circles():
    import grimp

    graph = grimp.build_graph("mlm_explorer", cache_dir=None, exclude_type_checking_imports=False)
    circles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            # A package's __init__ importing its own children (or a child its package) is not a circle.
            if imported.startswith(importer + ".") or importer.startswith(imported + "."):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                circles.append(" -> ".join((importer, *back)))
    assert circles == [], "import circles:\n" + "\n".join(sorted(set(circles)))


def _private_imports(path: Path, module: str, modules: dict[str, Path]) -> list[str]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(parent + ([base] if base else []))
        if base == module or base not in modules:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{module} imports {base}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names():
    modules = _module_names()
    found = [hit for name, path in sorted(modules.items()) for hit in _private_imports(path, name, modules)]
    assert found == []


@pytest.mark.parametrize("source", ["from mlm_explorer.core.load.models import _x", "from .models import _y"])
def test_the_private_name_check_sees_both_spellings(tmp_path, source):
    path = tmp_path / "probe.py"
    path.write_text(source + "\n")
    modules = {"mlm_explorer.core.load.models": path, "mlm_explorer.core.load.probe": path}
    assert _private_imports(path, "mlm_explorer.core.load.probe", modules)
