"""The house rules the layout stands on: science never reaches Parsl or orchestration, and nothing outside
orchestration's case module reads an MD case by string key."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mlmd_parsl"


def imported_modules(path: Path):
    """Absolute names of every module a file imports, relative imports resolved."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def test_science_imports_neither_parsl_nor_orchestration():
    offenders = {str(p.relative_to(PACKAGE)): name for p in (PACKAGE / "science").rglob("*.py")
                 for name in imported_modules(p)
                 if name.split(".")[0] == "parsl" or name.startswith("mlmd_parsl.orchestration")}
    assert offenders == {}


def test_the_science_sub_packages_are_mirrored_by_the_unit_tests():
    science = {p.name for p in (PACKAGE / "science").iterdir() if (p / "__init__.py").is_file()}
    tests = {p.name for p in Path(__file__).parent.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert science == {"engine", "lammps", "model", "reporting", "validation"} and science <= tests


def test_no_md_case_is_read_by_string_key_outside_the_case_module():
    """Neither in the package nor in the library examples of docs/library.md (users copy those)."""
    pattern = re.compile(r"\bcase\[[\"']")
    sources = [p for p in PACKAGE.rglob("*.py") if p.name != "cases.py"] + [PACKAGE.parent / "docs" / "library.md"]
    offenders = [p.name for p in sources if pattern.search(p.read_text())]
    assert offenders == []


def package_import_graph():
    """{module: the package's modules it imports}, imports inside functions included."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        graph[name] = set()
        for imported in filter(None, imported_modules(path)):
            while imported and imported not in modules:  # `from module import name` names a module's attribute
                imported = imported.rpartition(".")[0]
            if imported and imported not in (name, "mlmd_parsl"):
                graph[name].add(imported)
    return graph


def test_no_import_cycle_in_the_package():
    graph = package_import_graph()
    assert "mlmd_parsl.science.engine.force_assembly" in graph["mlmd_parsl.science.engine.captured_step"]

    def cycle_from(start):
        path, seen = [start], set()
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                seen.add(path.pop())
            elif nxt == start:
                return path + [start]
            elif nxt not in seen and nxt not in path:
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
        return None

    cycles = [c for c in map(cycle_from, graph) if c]
    assert cycles == []
