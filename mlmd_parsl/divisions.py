"""A site's divisions, each as a site of its own: `division_site(site, Division.SEED)` is the site running the
seed's work exactly (science/seed_procedure.py), `division_site(site, Division.OURS)` the site as its training
and md sections say. Everything downstream (case plans, apps, the dry run) takes one such site, so a division is
chosen once, here, and never branched on elsewhere except where the seed's order demands it (one case at a time).

What a site chooses for both divisions is its scale and hardware: the dataset, max_epochs, the devices, the
sizes, ranks and profile, the weak-scaling nodes and block, its LAMMPS. Where that scale is not the seed's (a
quick profile, a smaller block), the seed division's rows say so too (`deviations`).
"""
from dataclasses import dataclass, replace

from .config import SiteConfig
from .science.choices import Division
from .science.seed_procedure import (SEED_DTYPE, SEED_ENGINE, SEED_EXPORT, SEED_MD_KERNELS, SEED_TRAINING,
                                     SEED_TRAINING_KERNELS, SEED_WEAK_LAYOUT, md_differences, training_differences)


def division_site(site: SiteConfig, division: Division) -> SiteConfig:
    """The site running one division: for the seed, its procedure replaces the site's; for ours, the site as is."""
    division = Division(division)
    if division is Division.OURS:
        return replace(site, divisions=(Division.OURS,))
    spec = replace(SEED_TRAINING, max_epochs=site.training.spec.max_epochs, device=site.training.spec.device,
                   torch_seed=site.training.spec.torch_seed)
    md = site.md
    on_gpus = md.model_device.startswith("cuda")
    # a Kokkos line set by hand stays (the site's LAMMPS may need it), named as a deviation in every row it touches
    seed_md = replace(md, engine=SEED_ENGINE, mliap_model=SEED_EXPORT, custom_kernels=SEED_MD_KERNELS, dtype=SEED_DTYPE,
                      kokkos=on_gpus, kokkos_package=md.kokkos_package if on_gpus else "auto",
                      weak_scaling=replace(md.weak_scaling, layout=SEED_WEAK_LAYOUT))
    return replace(site, divisions=(Division.SEED,),
                   training=replace(site.training, spec=spec, custom_kernels=SEED_TRAINING_KERNELS), md=seed_md)


def division_sites(site: SiteConfig) -> list:
    """One site per division the site runs, the seed's first (its measurements run alone, before ours)."""
    return [division_site(site, division) for division in site.divisions]


@dataclass(frozen=True)
class Deviations:
    """How one division's work differs from the seed's, in words: its training, and its MD cases."""
    training: tuple
    md: tuple


def deviations(site: SiteConfig) -> Deviations:
    """What a one-division site (division_site) does otherwise than the seed, found by comparing each setting."""
    from .science.lammps.kokkos_options import parse_package

    md, training = site.md, site.training
    dataset_label = "real" if site.dataset.path else "synthetic"
    weak = md.weak_scaling
    gpus = site.provider.gpus_per_node
    packs = (site.division is Division.OURS and gpus > 1 and md.model_device.startswith("cuda") and 1 in md.ranks)
    return Deviations(
        training=tuple(training_differences(training.spec, training.custom_kernels, dataset_label)),
        md=tuple(md_differences(md.engine, md.mliap_model, md.custom_kernels, md.dtype, md.profile,
                                weak.layout if weak.nodes else None, weak.block,
                                parse_package(md.kokkos_package) if md.kokkos else (), gpus if packs else 0)),
    )
