"""Which source produced a result: per task, a digest of the package modules its computation imports, and the
git commit of the checkout for manifest.json.

Per task rather than one commit: a fix to the report or the campaign must not throw away hours of MD, while a
change to the engine must rerun every MD case, committed or not (a dirty tree counts: the digest is of the files
as they are). The closure is found statically (every `import` of a package module, those inside functions
too) and hashed as syntax trees, so comments and formatting do not count and code does.
"""
import ast
import hashlib
import subprocess
from pathlib import Path

PACKAGE = "mlmd_parsl"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

# The modules whose code computes each task's result (the command line and parameters are in the key already);
# an MD case's: its back-end's code_modules (md_backends/).
TASK_SOURCES = {
    "dataset": ("mlmd_parsl.science.model.dataset",),
    "training": ("mlmd_parsl.science.model.training",),
    "export": ("mlmd_parsl.science.model.export",),
    "validation": ("mlmd_parsl.science.validation.suite",),
}


def module_path(module: str, package_dir: Path = PACKAGE_DIR):
    """The file of a package module (a package's __init__.py), or None if `module` is not one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(module: str, tree: ast.AST, package_dir: Path = PACKAGE_DIR) -> set:
    """Every name `module` imports anywhere in its file, relative imports resolved: the modules, and for
    `from pkg import x` also pkg.x (a submodule or an attribute). The architecture tests read imports through this
    too, so the content keys and the house rules see the same import graph."""
    path = module_path(module, package_dir)
    is_package = path is not None and path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return found


def imported_modules(module: str, tree: ast.AST, package_dir: Path = PACKAGE_DIR) -> set:
    """Package modules that `module` imports anywhere in its file (absolute and relative imports)."""
    return {name for name in imported_names(module, tree, package_dir) if module_path(name, package_dir)}


def module_closure(entries, package_dir: Path = PACKAGE_DIR) -> dict:
    """{module: its syntax tree dumped} for the entries, everything they import in the package, and the
    packages above each (their __init__ runs on import)."""
    closure, todo = {}, list(entries)
    while todo:
        module = todo.pop()
        if module in closure:
            continue
        path = module_path(module, package_dir)
        if path is None:
            raise ValueError(f"{module} is not a module of {package_dir}")
        tree = ast.parse(path.read_text(), filename=str(path))
        closure[module] = ast.dump(tree)
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo += [m for m in imported_modules(module, tree, package_dir) | set(parents) if m not in closure]
    return closure


def source_digest(task: str, package_dir: Path = PACKAGE_DIR) -> str:
    return modules_digest(TASK_SOURCES[task], package_dir)


def modules_digest(modules: tuple, package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 of the source of `modules` and every package module they import (an MD back-end's code_modules)."""
    closure = module_closure(modules, package_dir)
    digest = hashlib.sha256()
    for module in sorted(closure):
        digest.update(f"{module}\0{closure[module]}\0".encode())
    return digest.hexdigest()


def git_state(package_dir: Path = PACKAGE_DIR) -> dict:
    """The checkout's commit and whether its tracked or untracked (not ignored) files differ from it; None for
    both where the package is not in a git checkout (an installed wheel)."""
    def git(*args):
        done = subprocess.run(["git", "-C", str(package_dir), *args], capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain") if commit else None
    except (OSError, subprocess.TimeoutExpired):
        commit = status = None
    return {"commit": commit, "dirty": None if status is None else bool(status), "package_dir": str(package_dir)}
