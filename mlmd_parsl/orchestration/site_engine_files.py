"""The files of the site engine (md.engine mliap): which `lmp`, each case's in.lammps (the seed's deck with
`pair_style mliap unified`) and the preflight's."""
import os
from pathlib import Path

from ..config import SiteConfig
from ..science.lammps.mliap_pair_arrays import PRESIZE_SCALE
from .cases import MDCase
from .rundir import site_engine_preflight_dir, train_dir


def site_lmp(site: SiteConfig) -> str:
    """md.lmp, else $LMP, else `lmp`: as configured, not resolved here: MD runs where the workers are, whose
    PATH may differ from the driver's."""
    return site.md.lmp or os.environ.get("LMP", "") or "lmp"


def site_engine_deck(case: MDCase):
    """The MD-HO deck with `pair_style mliap unified` (the seed's deck) on md.mliap_model's export; presized on the
    box compressed as the export's cutoff needs (mliap_pair_arrays.presize_scale). Before any export (a dry run),
    or where the files cannot be read here, the usual PRESIZE_SCALE: the case's LAMMPS then says what is wrong
    with them, as a failed case, not as an exception in the driver."""
    from ..science.lammps.deck import ForceField, make_deck, protocol_by_name
    from ..science.lammps.mliap_pair_arrays import presize_scale
    from ..science.model.export import BOX_FILE, MLIAP_MODEL_FILES, mliap_export_cutoff

    trained = train_dir(case.run_dir)
    model = trained / MLIAP_MODEL_FILES[case.export]
    scale = None
    if case.site_lammps.presize:
        try:
            scale = presize_scale(trained / BOX_FILE, mliap_export_cutoff(model))
        except Exception:
            scale = PRESIZE_SCALE
    return make_deck(trained / BOX_FILE, case.replicate, protocol_by_name(case.profile), ForceField.mliap(model),
                     kokkos=case.site_lammps.kokkos, mliap_presize_scale=scale)


def write_site_engine_deck(case: MDCase) -> Path:
    path = case.dir / "in.lammps"
    path.write_text(site_engine_deck(case).text)
    return path


def write_site_engine_probe(site: SiteConfig, run_dir: Path) -> Path:
    """The preflight's folder and in.lammps: the site's export evaluated once (run 0)."""
    from ..science.lammps.deck import ForceField, make_deck, single_stage_protocol
    from ..science.lammps.site_lammps import PROBE_REPLICATE
    from ..science.model.export import BOX_FILE, MLIAP_MODEL_FILES

    trained = train_dir(run_dir)
    probe_dir = site_engine_preflight_dir(run_dir)
    probe_dir.mkdir(parents=True, exist_ok=True)
    clear_probe_outputs(probe_dir)
    deck = make_deck(trained / BOX_FILE, PROBE_REPLICATE, single_stage_protocol(0),
                     ForceField.mliap(trained / MLIAP_MODEL_FILES[site.md.mliap_model]), kokkos=site.md.kokkos)
    (probe_dir / "in.lammps").write_text(deck.text)
    return probe_dir


def clear_probe_outputs(probe_dir: Path):
    """Parsl appends to stdout/stderr: a resumed run, or the preflight's next try, must not quote old output."""
    for stale in ("stdout.txt", "stderr.txt", "log.lammps"):
        (Path(probe_dir) / stale).unlink(missing_ok=True)
