"""Parse LAMMPS logs: atoms, ranks, MPI grid, the *timed run's* `Performance:` line and where its time went
(LAMMPS' "MPI task timing breakdown": Pair, Neigh, Comm, Output, Modify, Other, average seconds over ranks).

The deck prints `MLMD_STAGE <name>` before each stage; the timed run is the run that follows
`MLMD_STAGE timed`. Throughput is normalised from LAMMPS' atom-/katom-/Matom-step/s to atom-step/s.
A log without a complete timed run parses to status "incomplete" (or "failed" if LAMMPS printed an
ERROR), never to a number borrowed from another run.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

from .deck import STAGE_MARKER, TIMED_STAGE

_UNIT_SCALE = {"atom-step/s": 1.0, "katom-step/s": 1e3, "Matom-step/s": 1e6, "Gatom-step/s": 1e9}
_PERFORMANCE = re.compile(r"^Performance:\s*(?P<body>.*)$")
_LOOP = re.compile(r"^Loop time of (?P<time>\S+) on (?P<procs>\d+) procs for (?P<steps>\d+) steps "
                   r"with (?P<atoms>\d+) atoms")
_GRID = re.compile(r"^\s*(\d+) by (\d+) by (\d+) MPI processor grid")
_THREADS = re.compile(r"^\s*using (\d+) OpenMP thread\(s\) per MPI task")
# "Pair    | 1.4345     | 1.4345     | 1.4345     |   0.0 | 99.43" and "Other   |            | 0.001074   | ..."
_SECTION = re.compile(r"^(?P<name>Pair|Bond|Kspace|Neigh|Comm|Output|Modify|Other)\s*\|[^|]*\|\s*(?P<avg>\S+)\s*\|")


@dataclass
class RunBlock:
    stage: str
    steps: int = None
    atoms: int = None
    procs: int = None
    loop_time_s: float = None
    performance: dict = field(default_factory=dict)
    sections_s: dict = field(default_factory=dict)  # timing breakdown: section -> average seconds over ranks


@dataclass
class LogSummary:
    path: str
    status: str  # "ok", "incomplete" or "failed"
    atoms: int = None
    ranks: int = None  # MPI ranks (LAMMPS' "procs" count is ranks x OpenMP threads)
    threads_per_rank: int = 1
    mpi_grid: tuple = None
    timed_steps: int = None
    loop_time_s: float = None
    atom_step_s: float = None
    ns_per_day: float = None
    timesteps_per_s: float = None
    error: str = None
    runs: list = field(default_factory=list)
    timed_sections_s: dict = field(default_factory=dict)  # the timed run's timing breakdown

    @property
    def katom_step_s(self):
        return None if self.atom_step_s is None else self.atom_step_s / 1e3


def parse_performance(body: str) -> dict:
    """'1.2 ns/day, 19.9 hours/ns, 13.9 timesteps/s, 7.9 katom-step/s' -> dict of floats (atom_step_s normalised)."""
    result = {}
    for part in body.split(","):
        tokens = part.split()
        if len(tokens) != 2:
            continue
        value, unit = tokens
        try:
            number = float(value)
        except ValueError:
            continue
        if unit in _UNIT_SCALE:
            result["atom_step_s"] = number * _UNIT_SCALE[unit]
        elif unit in ("ns/day", "tau/day", "fs/day"):
            result[unit.replace("/", "_per_")] = number
        elif unit == "timesteps/s":
            result["timesteps_per_s"] = number
    return result


def parse_log(path) -> LogSummary:
    path = Path(path)
    if not path.exists():
        return LogSummary(str(path), "failed", error=f"log file {path} does not exist")
    runs, stage, grid, error, threads = [], None, None, None, 1
    current = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(STAGE_MARKER + " "):
            stage = line.split(maxsplit=1)[1].strip()
            current = None
            continue
        match = _GRID.match(line)
        if match:
            grid = tuple(int(v) for v in match.groups())
            continue
        match = _THREADS.match(line)
        if match:
            threads = int(match.group(1))
            continue
        match = _LOOP.match(line)
        if match:
            current = RunBlock(
                stage=stage or "",
                steps=int(match["steps"]),
                atoms=int(match["atoms"]),
                procs=int(match["procs"]),
                loop_time_s=float(match["time"]),
            )
            runs.append(current)
            continue
        match = _PERFORMANCE.match(line)
        if match and current is not None:
            current.performance = parse_performance(match["body"])
            continue
        match = _SECTION.match(line)
        if match and current is not None:
            current.sections_s[match["name"]] = float(match["avg"])
            continue
        if line.startswith("ERROR") and error is None:
            error = line.strip()
    summary = LogSummary(str(path), "incomplete", mpi_grid=grid, error=error, runs=runs, threads_per_rank=threads)
    timed = [run for run in runs if run.stage == TIMED_STAGE]
    if timed:
        run = timed[-1]
        summary.atoms, summary.timed_steps = run.atoms, run.steps
        summary.ranks = grid[0] * grid[1] * grid[2] if grid else run.procs // threads
        summary.loop_time_s = run.loop_time_s
        summary.timed_sections_s = dict(run.sections_s)
        if "atom_step_s" in run.performance:
            summary.atom_step_s = run.performance["atom_step_s"]
            summary.ns_per_day = run.performance.get("ns_per_day")
            summary.timesteps_per_s = run.performance.get("timesteps_per_s")
            summary.status = "ok"
    elif runs:
        summary.atoms = runs[-1].atoms
        summary.ranks = grid[0] * grid[1] * grid[2] if grid else runs[-1].procs // threads
    if error:
        summary.status = "failed"
    return summary


def thermo_tables(path) -> dict:
    """Thermo output per stage: {stage: [{'Step': .., 'Temp': .., ...}, ...]} (stage '' before any marker)."""
    tables, stage, header = {}, "", None
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith(STAGE_MARKER + " "):
            stage, header = line.split(maxsplit=1)[1].strip(), None
            continue
        fields = line.split()
        if fields and fields[0] == "Step":
            header = fields
            continue
        if header and len(fields) == len(header):
            try:
                values = [float(v) for v in fields]
            except ValueError:
                header = None
                continue
            tables.setdefault(stage, []).append(dict(zip(header, values)))
        elif header and line.startswith("Loop time"):
            header = None
    return tables
