"""What the seed does (../shared/design.md, section 1), as values, and every way a setting differs from it, in words.

The seed division runs these values; the ours division runs the site's. A row's deviations are found by
comparing its settings with these, key by key, so every difference is listed by construction: nothing is
written by hand per site. The scale a site chooses (dataset, epochs, sizes, steps) is compared the same way.
"""
from dataclasses import fields

from .choices import MDEngine, MliapExport, Trainer, WeakLayout
from .model.training import TrainingSpec

# training (train_model.py): hippynn's stock setup_and_train, pairs found by the periodic network every batch,
# the seed's network (dist_soft_min 2.3) and controller; hippynn's default kernels (the script sets none)
SEED_TRAINING = TrainingSpec(trainer=Trainer.HIPPYNN, precompute_pairs=False, dist_soft_min=None)
SEED_TRAINING_KERNELS = "auto"
SEED_DATASET = "Ag_warm_nospin.xyz"
# MD (MD-HO.in and the run scripts): `pair_style mliap unified` on hippynn's export, the run scripts'
# HIPPYNN_USE_CUSTOM_KERNELS=pytorch, float32 weights, the ats5 step counts, the weak-scaling block
SEED_ENGINE = MDEngine.MLIAP
SEED_EXPORT = MliapExport.HIPPYNN
SEED_MD_KERNELS = "pytorch"
SEED_DTYPE = "float32"
SEED_PROFILE = "ats5"
SEED_WEAK_BLOCK = (25, 24, 8)  # replicate 25 24 (8 x nodes): 340,800 atoms per node, 85,200 per GPU on Chicoma
SEED_WEAK_LAYOUT = WeakLayout.BLOCK

# A deviation today's software forces even on the seed division (e.g. the Kokkos line current LAMMPS accepts): a
# seed row whose only deviations are such is still the seed's work, and is set beside the seed's published numbers
FORCED = "forced by today's software: "
DEVIATION_SEPARATOR = "; "  # between a row's deviations in results.csv


def only_forced(deviations: str) -> bool:
    """True when a row's deviations (results.csv's text) are none, or only ones today's software forces."""
    return all(d.startswith(FORCED) for d in (deviations or "").split(DEVIATION_SEPARATOR) if d)


# What the differences say about each training key (beyond "KEY VALUE (the seed: VALUE)")
_TRAINING_WORDS = {
    "trainer": lambda v: f"trainer {v}: our loop on the lean HIP-NN (the seed: hippynn's setup_and_train)"
    if v is Trainer.LEAN else f"trainer {v}",
    "precompute_pairs": lambda v: "pairs found once before training (the seed: by the periodic network every batch)"
    if v else "pairs found every batch",
    "dist_soft_min": lambda v: f"sensitivities start at {v:.1f} A (the seed: 2.3 A)",
}
_NOT_PROCEDURE = ("device", "torch_seed")  # the site's hardware; the seed's script seeds nothing


def training_differences(spec: TrainingSpec, kernels: str, dataset_label: str) -> list:
    """How a training differs from the seed's: its procedure, its kernels, its scale and its data."""
    differences = []
    for field in fields(TrainingSpec):
        if field.name in _NOT_PROCEDURE:
            continue
        value, seed = getattr(spec, field.name), getattr(SEED_TRAINING, field.name)
        if value != seed:
            words = _TRAINING_WORDS.get(field.name)
            differences.append(words(value) if words else f"{field.name} {value} (the seed: {seed})")
    if kernels != SEED_TRAINING_KERNELS:
        differences.append(f"hippynn kernels {kernels} (the seed: hippynn's default, {SEED_TRAINING_KERNELS})")
    if dataset_label and dataset_label != "real":
        differences.append(f"{dataset_label} data (the seed: {SEED_DATASET})")
    return differences


def md_differences(engine, export, kernels, dtype, profile, weak_layout, weak_block, explicit_kokkos=(),
                   packed_at_once=0) -> list:
    """How MD cases differ from the seed's: engine, export, kernels, precision, step counts, weak-scaling box,
    a Kokkos line chosen by hand, and single-GPU cases run several at once (`packed_at_once`: how many)."""
    from .lammps.deck import PROFILES
    from .lammps.kokkos_options import SEED_PACKAGE, package_text

    differences = []
    if engine is not SEED_ENGINE:
        differences.append(f"engine {engine}: stock LAMMPS with our model step through fix external "
                           f"(the seed: pair_style mliap unified)")
    elif export is not SEED_EXPORT:
        differences.append(f"export {export}: our lean step inside pair_style mliap unified "
                           f"(the seed: hippynn's MLIAPInterface)")
    if kernels != SEED_MD_KERNELS and (engine is SEED_ENGINE and export is SEED_EXPORT):
        differences.append(f"HIPPYNN_USE_CUSTOM_KERNELS={kernels} (the seed: {SEED_MD_KERNELS})")
    if dtype != SEED_DTYPE:
        differences.append(f"{dtype} model (the seed: {SEED_DTYPE})")
    if profile != SEED_PROFILE:
        seed = PROFILES[SEED_PROFILE]
        steps = PROFILES[profile].total_steps if profile in PROFILES else "?"
        rescale = PROFILES[profile].rescale_every if profile in PROFILES else seed.rescale_every
        differences.append(f"profile {profile}: the seed's stages in {steps:,} steps"
                           + (f", temp/rescale every {rescale}" if rescale != seed.rescale_every else "")
                           + f" (the seed: {seed.total_steps:,}"
                           + (f", every {seed.rescale_every}" if rescale != seed.rescale_every else "") + ")")
    if weak_layout is not None:
        if weak_layout is not SEED_WEAK_LAYOUT:
            differences.append("weak-scaling box 2 x 2 x (zrep_per_rank x ranks), a rod "
                               "(the seed: 25 x 24 x (8 x nodes), a block)")
        elif tuple(weak_block) != SEED_WEAK_BLOCK:
            differences.append(f"weak-scaling box {weak_block[0]} x {weak_block[1]} x ({weak_block[2]} x nodes) "
                               "(the seed: 25 x 24 x (8 x nodes))")
    if explicit_kokkos and tuple(explicit_kokkos) != SEED_PACKAGE:
        differences.append(f"-pk kokkos {package_text(explicit_kokkos)} set by hand "
                           f"(the seed: {package_text(SEED_PACKAGE)})")
    if packed_at_once > 1:
        differences.append(f"single-GPU cases run up to {packed_at_once} at once, one per GPU "
                           "(the seed: one after another on one GPU)")
    return differences
