"""results.csv: one row per task (training, each MD case), failures included as rows.

A row holds numbers (ints and floats, None where empty); they become text only when the file is written
(CELL_FORMATS) and numbers again when it is read (read_results), so nothing downstream parses a cell."""
import csv
from pathlib import Path

from ...atomic_files import replaced_atomically, write_text_atomically
from ...errors import UserInputError
from ..choices import Trainer
from ..lammps.logs import parse_log, thermo_tables
from ..validation.checks import FLAG_COLUMNS

COLUMNS = [
    # division: seed (the seed's work exactly) or ours; deviations: how the row's work differs from the seed's
    "task", "division", "kind", "sweep", "status", "physics", "dataset", "dataset_sha256", "atoms", "ranks", "zrep",
    "mpi_grid",
    "profile", "engine", "device", "dtype", "threads",
    "timed_steps", "katom_step_s", "ns_per_day", "timesteps_per_s", "trainer", "epoch_time_s", "epochs",
    "test_epa_mae_mev", "test_force_mae_mev_per_a", "run_temperature_k",
    # validity of the model (the same on every row): science/validation/checks.py; `physics` above is their
    # verdict (physical / unphysical / empty when no check ran): a throughput on an unphysical model is not physics
    *FLAG_COLUMNS,
    # where the ranks ran (placement.json of the embedded engine): hosts, devices, Slurm job ids
    "hosts", "devices", "slurm_jobs", "deviations", "log", "error",
]

INT_COLUMNS = ("atoms", "ranks", "zrep", "threads", "timed_steps", "epochs")
FLOAT_COLUMNS = ("katom_step_s", "ns_per_day", "timesteps_per_s", "epoch_time_s", "test_epa_mae_mev",
                 "test_force_mae_mev_per_a", "run_temperature_k")
CELL_FORMATS = {"epoch_time_s": ".6f", "test_epa_mae_mev": ".4f", "test_force_mae_mev_per_a": ".4f",
                "katom_step_s": ".4f", "run_temperature_k": ".1f"}  # the rest as Python prints them


def cell(column: str, value) -> str:
    """The text results.csv holds for one value."""
    if value is None:
        return ""
    if column in CELL_FORMATS and isinstance(value, (int, float)):
        return format(value, CELL_FORMATS[column])
    return value


def typed(row: dict) -> dict:
    """A row read from results.csv with its numbers as numbers (empty cells None)."""
    def number(kind, text):
        return None if text in (None, "") else kind(float(text)) if kind is int else kind(text)

    return {k: number(int, v) if k in INT_COLUMNS else number(float, v) if k in FLOAT_COLUMNS else v
            for k, v in row.items()}


def training_row(summary=None, dataset_label="", log="", error=None, dataset_sha256="") -> dict:
    """The training's row from its TrainingSummary (None: the training failed)."""
    if summary is None:
        return {"task": "train", "kind": "training", "status": "failed", "dataset": dataset_label,
                "dataset_sha256": dataset_sha256, "log": log, "error": error}
    return {
        "task": "train",
        "kind": "training",
        "status": "ok",
        "dataset": summary.dataset_label,
        "dataset_sha256": dataset_sha256,
        "device": summary.device,
        "threads": summary.threads,
        "trainer": str(summary.trainer),
        "epoch_time_s": summary.epoch_time_s,
        "epochs": summary.epochs,
        "test_epa_mae_mev": summary.test_epa_mae_mev,
        "test_force_mae_mev_per_a": summary.test_force_mae_mev_per_a,
        "log": log,
    }


def md_row(task: str, log: str, sweep: str, ranks: int, zrep: int, profile: str, engine: str, device: str,
           dataset_label: str, error: str = None, dtype: str = "", threads: int = None, division: str = "",
           deviations: str = "") -> dict:
    """Row for one MD case from its log; `error` is the task's failure (exit code, exception), if any. `engine` is
    what the row calls it (mliap-lean: the site engine on the lean export); `division` and `deviations` say whose
    work it is and how it differs from the seed's."""
    parsed = parse_log(log)
    status = parsed.status
    if error and status in ("ok", "incomplete"):
        status = "failed"  # the run printed its line but the task still failed afterwards
    row = {
        "task": task,
        "division": division,
        "deviations": deviations,
        "kind": "md",
        "sweep": sweep,
        "status": status,
        "dataset": dataset_label,
        "atoms": parsed.atoms,
        "ranks": parsed.ranks if parsed.ranks is not None else ranks,
        "zrep": zrep,
        "mpi_grid": "x".join(map(str, parsed.mpi_grid)) if parsed.mpi_grid else "",
        "profile": profile,
        "engine": engine,
        "device": device,
        "dtype": dtype,
        "threads": threads,
        "timed_steps": parsed.timed_steps,
        "log": str(log),
        "error": error or parsed.error or ("" if status == "ok" else "no timed Performance line in the log"),
    }
    row.update(placement_columns(Path(log).with_name("placement.json")))
    if status == "ok":
        timed = thermo_tables(log).get("timed", [])
        if timed:
            row["run_temperature_k"] = sum(r["Temp"] for r in timed) / len(timed)
        row["katom_step_s"] = parsed.katom_step_s
        row["ns_per_day"] = parsed.ns_per_day
        row["timesteps_per_s"] = parsed.timesteps_per_s
    return row


def placement_columns(path: Path) -> dict:
    """hosts / devices / slurm_jobs of an MD case, in rank order, from the engine's placement.json."""
    import json

    try:
        ranks = json.loads(path.read_text())["ranks"]
    except (OSError, ValueError, KeyError):
        return {}

    def distinct(key):
        return " ".join(dict.fromkeys(r.get(key, "") for r in ranks if r.get(key)))

    devices = " ".join(r["device"] + (f"[{r['cuda_visible_devices']}]" if r.get("cuda_visible_devices") else "")
                       for r in ranks)
    return {"hosts": distinct("host"), "devices": devices, "slurm_jobs": distinct("slurm_job_id")}


def relative_to(path, root) -> str:
    """`path` relative to `root` when it lies inside it (a run folder that can be moved and shared), else as is."""
    import os

    if not path:
        return path or ""
    absolute, root = Path(path).resolve(), Path(root).resolve()
    return os.path.relpath(absolute, root) if absolute.is_relative_to(root) else str(path)


FIGURES = {"training": ("FOM 1: average epoch time", "epoch_time_s", "s/epoch"),
           "md": ("FOM 2: MD throughput", "katom_step_s", "Katom-step/s")}


def write_results_json(rows, path, run: str, commit=None, dirty=None):
    """results.json: one record per figure of merit (value, unit, task, atoms, ranks, commit, run), complete
    tasks only; results.csv has every row with its status."""
    import json

    records = []
    for row in rows:
        if row.get("status") != "ok" or row.get("kind") not in FIGURES:
            continue
        name, column, unit = FIGURES[row["kind"]]
        records.append({"figure": name, "value": float(cell(column, row[column])),  # as results.csv has it
                        "unit": unit, "task": row["task"], "division": row.get("division") or None,
                        "deviations": row.get("deviations") or "",
                        "atoms": row.get("atoms"), "ranks": row.get("ranks"),
                        "physics": row.get("physics") or None, "run": run, "commit": commit, "dirty": dirty})
    write_text_atomically(path, json.dumps(records, indent=2) + "\n")


def write_results(rows, path):
    path = Path(path)
    with replaced_atomically(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(k, row.get(k)) for k in COLUMNS})


class UnreadableResults(UserInputError):
    """A results.csv that is not one this project wrote (edited, truncated, another program's)."""


def read_results(path) -> list:
    """The rows of a results.csv, typed; UnreadableResults naming the file and line of the first bad cell."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = []
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    rows.append(typed(row))
                except (ValueError, TypeError) as exc:
                    raise UnreadableResults(f"{path}:{line}: not a results table this project wrote ({exc})") from None
            return rows
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UnreadableResults(f"{path}: not a results table this project wrote ({exc})") from None


def ok_md_rows(rows: list, sweep: str) -> list:
    """The MD rows of one sweep (throughput or weak) that finished."""
    return [r for r in rows if r.get("kind") == "md" and r.get("status") == "ok"
            and (r.get("sweep") or "throughput") == sweep]


def by_division(rows: list) -> dict:
    """{division: its rows}, in the run's order (rows of runs from before divisions fall under '')."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row.get("division") or "", []).append(row)
    return grouped


def row_name(row: dict) -> str:
    """'seed/md_z2_r1': a task of a division ('md_z2_r1' for runs from before divisions)."""
    return f"{row['division']}/{row['task']}" if row.get("division") else row["task"]


def trainer_of(row: dict) -> Trainer:
    """The trainer of a training row (rows from before the lean trainer have none: theirs was hippynn's)."""
    return Trainer(row.get("trainer") or Trainer.HIPPYNN)
