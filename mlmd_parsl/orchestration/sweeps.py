"""A site's MD cases, in the seed's order: the throughput sweep (zreps x ranks), then the weak-scaling sweep; how
long each may run, and the deviations from the seed's work each row names."""
from pathlib import Path

from ..config import SiteConfig
from ..science.choices import WeakLayout
from ..science.lammps.mliap_pair_arrays import PRESIZE_SCALE
from ..science.seed_procedure import FORCED
from .cases import MDCase, ranks_per_node
from .md_backends import backend_for


def md_cases(site: SiteConfig, run_dir: Path, kokkos_package: tuple = ()) -> list:
    """Every MD case of a one-division site (divisions.division_site), in the seed's order: the throughput sweep
    (zreps x ranks), then the weak-scaling sweep. Kokkos cases run `kokkos_package` (the preflight's choice) or,
    before one, md.kokkos_package's planned line. `run_dir`: the division's folder."""
    from ..divisions import deviations
    from ..science.lammps.kokkos_options import planned_package

    points = [("throughput", f"md_z{z}_r{r}", (2, 2, z), r) for z in site.md.zreps for r in site.md.ranks]
    points += [("weak", f"weak_r{ranks}", replicate, ranks) for replicate, ranks in weak_scaling_points(site)]
    backend = backend_for(site.md.engine)
    package = (tuple(kokkos_package) or planned_package(site.md.kokkos_package)) if site.md.kokkos else ()
    md_deviations = deviations(site).md + kokkos_deviation(site, package)
    cases = []
    for sweep, name, replicate, ranks in points:
        site_lammps = backend.site_lammps_run(site, ranks, package)
        presize = site_lammps is not None and site_lammps.presize
        cases.append(MDCase(
            task=name, sweep=sweep, replicate=replicate, ranks=ranks,
            # one GPU each, on the python executor's workers (HTEX available_accelerators: one worker per GPU)
            packed=sweep == "throughput" and ranks == 1 and site.provider.gpus_per_node > 0,
            profile=site.md.profile, engine=site.md.engine, model_device=site.md.model_device, dtype=site.md.dtype,
            run_dir=str(run_dir), division=site.division,
            deviations=md_deviations + ((PRESIZE_DEVIATION,) if presize else ()),
            timeout_s=case_timeout_s(site), site_lammps=site_lammps,
        ))
    return cases


CASE_STARTUP_S = 300  # imports, model load, MPI start-up, the deck's setup on a busy node


def case_timeout_s(site: SiteConfig) -> int:
    """How long an MD case may run before it counts as hung: start-up plus every step of the profile (and the
    presizing run 0) at md.min_timesteps_per_s."""
    from ..science.lammps.deck import protocol_by_name

    steps = protocol_by_name(site.md.profile).total_steps + 1
    return CASE_STARTUP_S + int(steps / site.md.min_timesteps_per_s + 0.999)


PRESIZE_DEVIATION = (f"{FORCED}the deck first evaluates the box once compressed {PRESIZE_SCALE:g}x or more (run 0, "
                     "not timed; box restored) to size ML-IAP's pair arrays: on several ranks LAMMPS' "
                     "MLIAPData::grow_neigharrays otherwise corrupts memory (md.mliap_presize; docs/crossroads.md)")


def weak_scaling_points(site: SiteConfig) -> list:
    """(replicate, ranks) of each weak-scaling case: one per node count, ranks_per_node ranks on each node; the
    seed's block grows in z with the nodes, ours' rod with the ranks."""
    weak = site.md.weak_scaling
    points = []
    for nodes in weak.nodes:
        ranks = nodes * ranks_per_node(site)
        if weak.layout is WeakLayout.ROD:
            points.append(((2, 2, weak.zrep_per_rank * ranks), ranks))
        else:
            points.append(((weak.block[0], weak.block[1], weak.block[2] * nodes), ranks))
    return points


def kokkos_deviation(site: SiteConfig, package: tuple) -> tuple:
    """The seed's Kokkos line is 'neigh full newton on'; LAMMPS since 2024 refuses it and the preflight then keeps
    'newton on neigh half' (kokkos_options.py): a deviation today's software forces, named in every row it touches."""
    from ..science.lammps.kokkos_options import AUTO, CURRENT_PACKAGE, SEED_PACKAGE, package_text

    if not site.md.kokkos or site.md.kokkos_package != AUTO or tuple(package) != CURRENT_PACKAGE:
        return ()
    return (f"{FORCED}-pk kokkos {package_text(CURRENT_PACKAGE)} (LAMMPS since 2024 refuses the seed's "
            f"'{package_text(SEED_PACKAGE)}')",)
