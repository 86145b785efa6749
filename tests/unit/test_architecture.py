"""The house rules the layout stands on: science never reaches Parsl or orchestration, nothing outside
orchestration's case module reads an MD case by string key, no import cycle, no function over 60 lines, the
engine, trainer and export names compared as strings only where they are spelled (science/choices.py), no branch
on the MD engine outside its back-ends; and for benchmarks/ the same length and cycle rules, with every name they
import from the package resolving."""
import ast
import re
from pathlib import Path

from mlmd_parsl.orchestration import code_digest

PACKAGE = Path(__file__).resolve().parents[2] / "mlmd_parsl"


def module_name(path: Path) -> str:
    """mlmd_parsl.x.y for a package file (a package's own name for its __init__.py); a benchmark's plain stem."""
    if PACKAGE not in path.parents:
        return path.stem
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def imported_names(path: Path) -> set:
    """Every name a file imports (code_digest's reading, the one the content keys use)."""
    return code_digest.imported_names(module_name(path), ast.parse(path.read_text()), PACKAGE)


def test_science_imports_neither_parsl_nor_orchestration():
    offenders = {str(p.relative_to(PACKAGE)): name for p in (PACKAGE / "science").rglob("*.py")
                 for name in imported_names(p)
                 if name.split(".")[0] == "parsl" or name.startswith("mlmd_parsl.orchestration")}
    assert offenders == {}


def test_the_science_sub_packages_are_mirrored_by_the_unit_tests():
    science = {p.name for p in (PACKAGE / "science").iterdir() if (p / "__init__.py").is_file()}
    tests = {p.name for p in Path(__file__).parent.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert science == {"embedded", "gpu", "lammps", "model", "reporting", "validation"} and science <= tests


def test_no_md_case_is_read_by_string_key_outside_the_case_module():
    """Neither in the package nor in the library examples of docs/library.md (users copy those)."""
    pattern = re.compile(r"\bcase\[[\"']")
    sources = [p for p in PACKAGE.rglob("*.py") if p.name != "cases.py"] + [PACKAGE.parent / "docs" / "library.md"]
    offenders = [p.name for p in sources if pattern.search(p.read_text())]
    assert offenders == []


def package_import_graph():
    """{module: the package's modules it imports}, imports inside functions included."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: code_digest.imported_modules(name, ast.parse(path.read_text()), PACKAGE) - {name, "mlmd_parsl"}
            for name, path in paths.items()}


def cycles_in(graph: dict) -> list:
    """Every cycle of an import graph ({module: modules it imports}), one per module that starts one."""
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

    return [c for c in map(cycle_from, graph) if c]


def test_no_import_cycle_in_the_package():
    graph = package_import_graph()
    assert "mlmd_parsl.science.embedded.force_assembly" in graph["mlmd_parsl.science.embedded.captured_step"]
    assert cycles_in(graph) == []


def functions_in(paths):
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def package_functions():
    return functions_in(PACKAGE.rglob("*.py"))


def over_60_lines(functions, root: Path) -> dict:
    return {f"{p.relative_to(root)}:{f.name}": f.end_lineno - f.lineno + 1 for p, f in functions
            if f.end_lineno - f.lineno + 1 > 60}


def test_no_function_in_the_package_is_over_60_lines():
    assert over_60_lines(package_functions(), PACKAGE) == {}
    assert any(f.name == "make_deck" for _, f in package_functions())  # the walk sees the package's functions


def choice_words():
    from mlmd_parsl.science import choices

    return {member.value for kind in vars(choices).values()
            if isinstance(kind, type) and issubclass(kind, choices.Choice) and kind is not choices.Choice
            for member in kind} | {choices.MLIAP_LEAN_LABEL}


def string_comparisons_of(tree, words):
    """Lines where a Compare node tests against one of `words` as a literal (alone or in a tuple/list/set)."""
    def literals(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return set().union(*map(literals, node.elts)) if node.elts else set()
        return set()

    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Compare)
            and any(literals(side) & words for side in [node.left, *node.comparators])]


def test_engine_trainer_and_export_names_are_compared_as_strings_only_in_choices():
    words = choice_words()
    assert {"embedded", "mliap", "hippynn", "lean", "mliap-lean"} <= words
    offenders = {str(p.relative_to(PACKAGE)): lines for p in PACKAGE.rglob("*.py") if p.name != "choices.py"
                 for lines in [string_comparisons_of(ast.parse(p.read_text()), words)] if lines}
    assert offenders == {}
    assert string_comparisons_of(ast.parse('if engine == "mliap" or x in ("lean", "a"): pass'), words) == [1, 1]


def engine_branches_of(tree) -> list:
    """Lines comparing with an MDEngine member (`engine is MDEngine.MLIAP`, `== MDEngine.EMBEDDED`, ...)."""
    def is_member(node):
        return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "MDEngine"
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Compare)
            and any(is_member(side) for side in [node.left, *node.comparators])]


def test_no_code_branches_on_the_md_engine_outside_its_back_ends():
    """What differs between engines lives in orchestration/md_backends/ (one module each); everything else asks
    backend_for(engine). choices.py may say what an engine is (MDEngine.runs_site_lammps)."""
    backends = PACKAGE / "orchestration" / "md_backends"
    offenders = {str(p.relative_to(PACKAGE)): lines for p in PACKAGE.rglob("*.py")
                 if backends not in p.parents and p.name != "choices.py"
                 for lines in [engine_branches_of(ast.parse(p.read_text()))] if lines}
    assert offenders == {}
    assert engine_branches_of(ast.parse("if x.engine is MDEngine.MLIAP or MDEngine.EMBEDDED != y: pass")) == [1, 1]


BENCHMARKS = PACKAGE.parent / "benchmarks"


def test_no_function_in_the_benchmarks_is_over_60_lines():
    assert over_60_lines(functions_in(sorted(BENCHMARKS.glob("*.py"))), BENCHMARKS) == {}
    assert any(f.name == "engine_rate" for _, f in functions_in(BENCHMARKS.glob("*.py")))


def test_no_import_cycle_among_the_benchmarks():
    """Benchmarks import each other by plain name (they run as scripts from benchmarks/)."""
    names = {p.stem for p in BENCHMARKS.glob("*.py")}
    graph = {p.stem: {m.split(".")[0] for m in filter(None, imported_names(p))} & names - {p.stem}
             for p in BENCHMARKS.glob("*.py")}
    assert cycles_in(graph) == []
    assert "harness" in graph["cpu_model_step"]  # the walk sees their imports


def test_every_name_the_benchmarks_import_from_the_package_exists():
    """A benchmark imports from the package inside its functions too, where only a run would find a name renamed
    away (the harness's training path broke that way once): every `from mlmd_parsl... import name` must resolve."""
    import importlib
    import importlib.util

    missing = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("mlmd_parsl"):
                module = importlib.import_module(node.module)
                missing += [f"{path.name}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                            and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
            elif isinstance(node, ast.Import):
                missing += [f"{path.name}: {a.name}" for a in node.names
                            if a.name.startswith("mlmd_parsl") and importlib.util.find_spec(a.name) is None]
    assert missing == []


def test_the_cli_only_parses_and_dispatches():
    """cli.py reads the command line and hands over: no Parsl, signals, console tee or summary wording in it (those
    are orchestration's driver, stop_signals and console_log, and reporting's console_summary)."""
    path = PACKAGE / "cli.py"
    names = imported_names(path)
    assert {m for m in names if m.split(".")[0] in {"parsl", "signal", "contextlib", "os"}} == set()
    modules = code_digest.imported_modules("mlmd_parsl.cli", ast.parse(path.read_text()), PACKAGE)
    assert "mlmd_parsl.orchestration.driver" in modules  # the reading sees its imports
    assert modules <= {
        "mlmd_parsl.arguments", "mlmd_parsl.errors", "mlmd_parsl.config", "mlmd_parsl.orchestration",
        "mlmd_parsl.orchestration.rundir", "mlmd_parsl.orchestration.builder", "mlmd_parsl.orchestration.before_start",
        "mlmd_parsl.orchestration.driver", "mlmd_parsl.orchestration.dry_run", "mlmd_parsl.orchestration.code_digest"}
    assert "print(\"\"" not in path.read_text() and "out(" not in path.read_text()
