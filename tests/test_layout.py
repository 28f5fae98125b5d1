"""The package layout stays what docs/architecture.md describes: stage subpackages,
a small root, short files, and imports that run one way (no cycles, counting
imports inside functions)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "nmtprune"
MAX_LINES = 300
MAX_ROOT_MODULES = 8
MIN_SUBPACKAGES = 5


def module_name(path: Path) -> str:
    """``src/nmtprune/a/b.py`` -> ``nmtprune.a.b``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """Package modules imported anywhere in ``path`` (nested imports too), relative ones resolved.

    ``from X import y`` counts as importing ``X.y`` when that is a module, else ``X``.
    """
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in known}
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(path, name, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}          # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def test_the_graph_sees_nested_and_relative_imports():
    g = import_graph()
    assert "nmtprune.api" in g["nmtprune.cli.train"]             # imported inside a function
    assert "nmtprune.model.masks" in g["nmtprune.prune.allocation"]  # relative, two levels up
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


def test_stages_never_import_the_api_or_the_cli():
    for name, deps in import_graph().items():
        if name.startswith("nmtprune.cli") or name in ("nmtprune", "nmtprune.__main__"):
            continue
        bad = {d for d in deps if d.startswith("nmtprune.cli") or (d == "nmtprune.api" and name != "nmtprune")}
        assert not bad, f"{name} imports {bad}"


def test_small_root_and_stage_subpackages():
    root = sorted(p.name for p in PKG.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root
    subpackages = [p for p in PKG.iterdir() if (p / "__init__.py").is_file()]
    assert len(subpackages) >= MIN_SUBPACKAGES, subpackages


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")) + sorted((ROOT / "tests").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_over_the_line_limit(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)}: {n} lines (at most {MAX_LINES})"


MAX_FUNCTION_LINES = 80
MAX_POSITIONAL = 6


def test_functions_are_short_and_take_few_positional_parameters():
    """A function a reader holds at once: at most 80 lines and 6 positional parameters (self and
    cls excluded); optional settings go keyword-only."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                pos = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES or len(pos) > MAX_POSITIONAL:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines, "
                               f"{len(pos)} positional")
    assert not bad, bad
