"""The site's LAMMPS (`pair_style mliap unified`) against the embedded engine on the same boxes and ranks."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lammps.deck import DeckOutputs, ForceField, make_deck, single_stage_protocol
from ..lammps.logs import thermo_tables
from .reference import read_force_dump
from .engine_runs import run_standalone, validation_boxes
from .spec import ValidationSpec


# site engine vs embedded engine, both float32: 1e-4 of the largest force is ~1000 float32 roundings of it;
# energies and pressures are printed by LAMMPS with 8 significant digits, hence the absolute floors
CROSS_FORCE_RTOL = 1e-4
CROSS_ENERGY_RTOL = 1e-6
CROSS_VIRIAL_RTOL = 1e-4
CROSS_TOLERANCES = {"force_relative": CROSS_FORCE_RTOL, "energy_relative": CROSS_ENERGY_RTOL,
                    "virial_relative": CROSS_VIRIAL_RTOL}
CROSS_ENGINE_BOXES = ("replica_2x2x1", "noncubic_1x2x3", "strained_3pct")
VIRIAL_COMPONENTS = ("Pxx", "Pyy", "Pzz", "Pxy", "Pxz", "Pyz")


@dataclass(frozen=True)
class SiteEngine:
    """The site's LAMMPS as the cross-engine check runs it: `lmp` on the export `model` (the file md.mliap_model
    names), through KOKKOS with `kokkos_package` when that is set; the embedded engine it is compared with runs
    on `device`."""
    lmp: str
    model: str
    device: str = "cpu"
    kokkos_package: tuple = ()


def check_cross_engine(site_engine: SiteEngine, model, box, out_dir, spec: ValidationSpec):
    """The site's LAMMPS against the embedded engine (on `model`, hippynn's export) on the same boxes and rank
    counts: forces, energy and the virial (the pressure at T = 0). Both compute in float32, in different
    summation orders: the tolerances are float32's."""
    from ..lammps.site_lammps import SiteLammpsFailed, run_site_lammps

    folder = Path(out_dir) / "cross_engine"
    folder.mkdir(parents=True, exist_ok=True)
    boxes = [b for b in validation_boxes(box, out_dir) if b[0] in CROSS_ENGINE_BOXES]
    kokkos_package, device = tuple(site_engine.kokkos_package), site_engine.device
    cases = []
    for name, data, replicate in boxes:
        for ranks in spec.rank_counts:
            tag = f"{name}_{ranks}ranks"
            site_dump = folder / f"site_{tag}.dump"
            deck = make_deck(Path(data).resolve(), replicate, single_stage_protocol(0),
                             ForceField.mliap(Path(site_engine.model).resolve()), kokkos=bool(kokkos_package),
                             outputs=DeckOutputs(dump_forces=str(site_dump)))
            try:
                site_log = run_site_lammps(site_engine.lmp, deck.text, folder, ranks, kokkos_package,
                                           tag=f"site_{tag}")
            except SiteLammpsFailed as exc:  # a failed check, not a lost validation: the other checks still run
                return {"lmp": site_engine.lmp, "model": str(site_engine.model), "cases": cases, "ok": False,
                        "error": str(exc), "tolerances": CROSS_TOLERANCES}
            dump, log = run_standalone(model, data, folder, f"embedded_{tag}", replicate, 0, ranks, "float32",
                                       device)
            site_row, row = thermo_tables(site_log)["timed"][0], thermo_tables(log)["timed"][0]
            site_forces, forces = read_force_dump(site_dump)[2], read_force_dump(dump)[2]
            scale = float(np.abs(forces).max())
            force_error = float(np.abs(site_forces - forces).max())
            virial_scale = max(abs(row[k]) for k in VIRIAL_COMPONENTS)
            virial_error = max(abs(site_row[k] - row[k]) for k in VIRIAL_COMPONENTS)
            energy_error = abs(site_row["PotEng"] - row["PotEng"])
            cases.append({
                "box": name, "ranks": ranks, "atoms": len(forces), "max_force_ev_per_a": scale,
                "max_force_difference": force_error, "pe_site_ev": site_row["PotEng"], "pe_embedded_ev": row["PotEng"],
                "pe_difference_ev": energy_error, "max_virial_difference_bar": virial_error,
                "ok": (force_error <= CROSS_FORCE_RTOL * scale + 1e-6
                       and energy_error <= CROSS_ENERGY_RTOL * abs(row["PotEng"]) + 1e-3
                       and virial_error <= CROSS_VIRIAL_RTOL * virial_scale + 1.0),
            })
    return {"lmp": site_engine.lmp, "model": str(site_engine.model), "cases": cases,
            "kokkos_package": " ".join(kokkos_package), "embedded_device": device,
            "ok": all(c["ok"] for c in cases), "tolerances": CROSS_TOLERANCES}
