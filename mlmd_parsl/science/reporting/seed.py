"""The seed's published numbers (mlmd_parsl/reference/*.csv) and what of them compares with a case of ours."""
import csv
from importlib import resources


SEED_GPU_LABEL = "seed: Chicoma 1xA100 (ML-IAP Kokkos)"
SEED_TRAINING_FOM_S = {"cuda": 0.2465, "cpu": 1.670}  # Chicoma 1xA100 / Crossroads one node


def seed_reference():
    """The seed's published numbers: {'gpu': [(atoms, katom_step_s)], 'cpu_4544': [(ranks, ...)], 'cpu_18176': ...}."""
    base = resources.files("mlmd_parsl") / "reference"

    def read(name, cast=float):
        with (base / name).open() as handle:
            rows = list(csv.reader(handle))[1:]
        return [(cast(r[0]), float(r[1])) for r in rows if r]

    return {
        "gpu": read("seed_gpu.csv", int),
        "cpu_4544": read("seed_cpu_4k.csv", int),
        "cpu_18176": read("seed_cpu_18k.csv", int),
    }


def seed_throughput(row: dict):
    """The seed's Katom-step/s for the same kind of case, or None where the seed has none."""
    seed = seed_reference()
    atoms, ranks = row["atoms"], row["ranks"]
    if row.get("device", "").startswith("cuda"):
        return dict(seed["gpu"]).get(atoms) if ranks == 1 else None
    return dict(seed.get(f"cpu_{atoms}", [])).get(ranks)
