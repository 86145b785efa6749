"""The MD cases of a site (its sweeps) and what each needs: ranks per node, MPI resources, threads, deck."""
import os
import re
from pathlib import Path

from ..config import SiteConfig


def md_cases(site: SiteConfig, run_dir: Path) -> list:
    """Every MD case of the site: the throughput sweep (zreps x ranks), then the weak-scaling sweep."""
    points = [("throughput", f"md_z{z}_r{r}", z, r) for z in site.md.zreps for r in site.md.ranks]
    weak = site.md.weak_scaling
    if weak.zrep_per_rank:
        points += [("weak", f"weak_r{r}", weak.zrep_per_rank * r, r) for r in weak.ranks]
    lmp = site_lmp(site) if site.md.engine == "mliap" else ""
    cases = []
    for sweep, name, zrep, ranks in points:
        case_dir = run_dir / "md" / name
        cases.append({
            "task": name,
            "sweep": sweep,
            "zrep": zrep,
            "replicate": [2, 2, zrep],
            "ranks": ranks,
            # one GPU each, packed one per GPU by the python executor's workers (HTEX available_accelerators)
            "packed": sweep == "throughput" and ranks == 1 and site.provider.gpus_per_node > 0,
            "profile": site.md.profile,
            "engine": site.md.engine,
            "model_device": site.md.model_device,
            "dtype": site.md.dtype,
            "lmp": lmp,
            "kokkos": site.md.kokkos,
            "mliap_model": site.md.mliap_model,
            "kokkos_gpus": min(ranks, ranks_per_node(site)),  # -k on g N: GPUs each node's ranks share
            "dir": str(case_dir),
            "log": str(case_dir / "log.lammps"),
        })
    return cases


def site_lmp(site: SiteConfig) -> str:
    """md.lmp, else $LMP, else `lmp`: as configured, not resolved here: MD runs where the workers are, whose
    PATH may differ from the driver's."""
    return site.md.lmp or os.environ.get("LMP", "") or "lmp"


def site_engine_deck(case: dict, train_dir: Path):
    """The MD-HO deck with `pair_style mliap unified` (the seed's deck) on md.mliap_model's export."""
    from ..science.deck import make_deck, protocol_by_name
    from ..science.export import BOX_FILE, MLIAP_MODEL_FILES

    return make_deck(
        train_dir / BOX_FILE, case["replicate"], protocol_by_name(case["profile"]), engine="mliap",
        model_file=train_dir / MLIAP_MODEL_FILES[case["mliap_model"]], kokkos=case["kokkos"],
    )


def write_site_engine_deck(case: dict, train_dir: Path) -> Path:
    path = Path(case["dir"]) / "in.lammps"
    path.write_text(site_engine_deck(case, train_dir).text)
    return path


PROBE_REPLICATE = (2, 2, 1)  # 284 atoms: seconds, and ghosts on every side at 1 rank


def write_site_engine_probe(site: SiteConfig, run_dir: Path) -> Path:
    """The preflight's folder and in.lammps: the site's export evaluated once (run 0)."""
    from ..science.deck import make_deck, single_stage_protocol
    from ..science.export import BOX_FILE, MLIAP_MODEL_FILES

    train_dir = run_dir / "train"
    probe_dir = run_dir / "md" / "site_engine_preflight"
    probe_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("stdout.txt", "stderr.txt", "log.lammps"):  # Parsl appends: a resumed run must not quote old output
        (probe_dir / stale).unlink(missing_ok=True)
    deck = make_deck(train_dir / BOX_FILE, PROBE_REPLICATE, single_stage_protocol(0), engine="mliap",
                     model_file=train_dir / MLIAP_MODEL_FILES[site.md.mliap_model], kokkos=site.md.kokkos)
    (probe_dir / "in.lammps").write_text(deck.text)
    return probe_dir


def ranks_per_node(site: SiteConfig) -> int:
    """How many MD ranks fit a node: one per GPU when the model runs on GPUs, else one per core."""
    if site.provider.gpus_per_node and site.md.model_device.startswith("cuda"):
        return site.provider.gpus_per_node
    return site.provider.cores_per_node


def mpi_resources(site: SiteConfig, ranks: int) -> dict:
    """Parsl's MPI resource request for `ranks` ranks: whole nodes, ranks spread evenly (validated)."""
    nodes = -(-ranks // ranks_per_node(site))
    spec = {"num_nodes": nodes, "num_ranks": ranks, "ranks_per_node": ranks // nodes}
    if site.provider.launcher_options:
        spec["launcher_options"] = site.provider.launcher_options
    return spec


def threads_per_rank(site: SiteConfig, ranks: int, packed: bool = False) -> int:
    """OpenMP/torch threads per rank: what the launcher binds (--cpus-per-task N), else the node's cores shared out.
    A packed single-GPU case shares its node with one case per GPU."""
    if packed:
        return max(1, site.provider.cores_per_node // site.provider.gpus_per_node)
    pinned = re.search(r"--cpus-per-task[= ](\d+)", site.provider.launcher_options)
    if pinned:
        return int(pinned.group(1))
    return max(1, site.provider.cores_per_node // min(ranks, site.provider.cores_per_node))
