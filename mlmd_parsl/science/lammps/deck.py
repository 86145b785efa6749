"""The seed's MD-HO LAMMPS input deck, for every engine: only the force-field lines differ.

Stages: (1) dt 1 fs NVT with velocities created at T, (2) dt 5 fs NVT, (3) NVE + temp/rescale,
(4) equilibration, (5) the timed run whose `Performance:` line is FOM 2. Stages 4 and 5 keep the
NVE + temp/rescale integrator of stage 3. Before every stage the deck prints a marker line
`MLMD_STAGE <name>` so the log parser can find the timed run's line without counting.
"""
from dataclasses import dataclass, replace

TEMPERATURE_K = 1111.0
VELOCITY_SEED = 8971317
SILVER_MASS = 107.8682
MODEL_FIX_ID = "mlmd_model"
STAGE_MARKER = "MLMD_STAGE"
TIMED_STAGE = "timed"


@dataclass(frozen=True)
class Stage:
    name: str
    steps: int
    timestep_fs: float
    ensemble: str  # "nvt" or "nve_rescale"


@dataclass(frozen=True)
class Protocol:
    name: str
    stages: tuple
    thermo_every: int
    rescale_every: int = 100  # steps between temp/rescale's rescalings (the seed's 100)

    @property
    def total_steps(self):
        return sum(stage.steps for stage in self.stages)


def _md_ho(name, steps, thermo_every, rescale_every=100):
    s1, s2, s3, s4, s5 = steps
    return Protocol(
        name,
        (
            Stage("nvt_1fs", s1, 1.0, "nvt"),
            Stage("nvt_5fs", s2, 5.0, "nvt"),
            Stage("nve_rescale", s3, 5.0, "nve_rescale"),
            Stage("equilibration", s4, 5.0, "nve_rescale"),
            Stage(TIMED_STAGE, s5, 5.0, "nve_rescale"),
        ),
        thermo_every,
        rescale_every,
    )


PROFILES = {
    "ats5": _md_ho("ats5", (10_000, 10_000, 10_000, 5_000, 10_000), 1000),
    # The seed's stages, far shorter. Its temp/rescale every 100 steps barely fires in so few steps and the
    # crystal started at 1111 K gives half its kinetic energy to the potential: the timed stage runs at about
    # 925 K, and report.md says so. (Rescaling every 20 steps with a longer warm-up reached 1,100 K, but the seed's
    # engine then crashed (SIGSEGV) in a 2-rank case near the end of its run: not kept until that is understood.)
    "quick": _md_ho("quick", (20, 20, 20, 10, 60), 10),
}


def single_stage_protocol(steps: int, timestep_fs: float = 1.0) -> Protocol:
    """One timed NVE stage (the standalone `--steps N`); 0 steps evaluates the box as given."""
    return Protocol(f"steps{steps}", (Stage(TIMED_STAGE, steps, timestep_fs, "nve"),), max(1, steps // 100))


def with_timed_steps(protocol: Protocol, steps: int) -> Protocol:
    """The protocol with its timed stage `steps` long (its warm-up stages as they are): a timing long enough
    to measure where the profile's own is a few hundredths of a second."""
    stages = tuple(replace(stage, steps=steps) if stage.name == TIMED_STAGE else stage for stage in protocol.stages)
    return replace(protocol, name=f"{protocol.name}_timed{steps}", stages=stages)


def protocol_by_name(name: str) -> Protocol:
    if name not in PROFILES:
        from ...errors import ConfigError

        raise ConfigError(f"unknown MD profile {name!r}; allowed: {sorted(PROFILES)}")
    return PROFILES[name]


@dataclass(frozen=True)
class Deck:
    setup: str  # up to and including the force field; the embedded engine hooks its callback after it
    stages: str
    ghost_cutoff: float = None  # embedded engine: how far LAMMPS keeps ghosts (cutoff + skin), for its check

    @property
    def text(self):
        return self.setup + self.stages


NEIGHBOUR_SKIN = 2.0  # LAMMPS' default in metal units, stated so the ghost reach below is explicit


def force_field_lines(engine: str, model_file=None, cutoff=4.0, eam_file=None):
    if engine == "embedded":
        # No pair style: LAMMPS keeps ghosts out to cutoff + skin (comm cutoff) and builds no neighbour
        # list of its own (pair_style zero's unused list cost 18% of a GPU step at 85,200 atoms); the model is
        # the fix.
        return [
            "pair_style none",
            f"comm_modify cutoff {cutoff + NEIGHBOUR_SKIN}",
            f"fix {MODEL_FIX_ID} all external pf/callback 1 1",
            f"fix_modify {MODEL_FIX_ID} energy yes virial yes",
        ]
    if engine == "mliap":
        return [f"pair_style mliap unified {model_file} 0", "pair_coeff * * Ag"]
    if engine == "eam":
        # ghosts at least as far as the model's (LAMMPS takes the larger of this and the potential's cutoff +
        # skin): the g(r) of a short-ranged oracle (eam_oracle.py) reaches past its own cutoff
        return ["pair_style eam", f"pair_coeff * * {eam_file}", f"comm_modify cutoff {cutoff + NEIGHBOUR_SKIN}"]
    raise ValueError(f"unknown force field engine {engine!r}")


def make_deck(
    box_file,
    replicate,
    protocol: Protocol,
    engine="embedded",
    model_file=None,
    eam_file=None,
    cutoff=4.0,
    temperature=TEMPERATURE_K,
    velocity_seed=VELOCITY_SEED,
    kokkos=False,
    dump_forces=None,
    rdf_file=None,
    positions_dump=None,
) -> Deck:
    """positions_dump: (file, every N steps) to sample positions over the whole run (closest approach)."""
    nx, ny, nz = replicate
    setup = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        "atom_modify map array",
        f"read_data {box_file}",
        f"mass 1 {SILVER_MASS}",
        f"replicate {nx} {ny} {nz}",
        *force_field_lines(engine, model_file, cutoff, eam_file),
        f"neighbor {NEIGHBOUR_SKIN} bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_style custom step temp pe ke etotal press pxx pyy pzz pxy pxz pyz",
        "thermo_modify norm no flush yes",
        f"thermo {protocol.thermo_every}",
    ]
    suffix = "/kk" if kokkos else ""
    stages = []
    if any(stage.steps > 0 for stage in protocol.stages):
        stages.append(
            f"velocity all create {temperature} {velocity_seed} mom yes rot yes dist gaussian loop geom"
        )
    if positions_dump:
        stages += _positions_dump_lines(*positions_dump)
    for number, stage in enumerate(protocol.stages, start=1):
        stages.append(f'print "{STAGE_MARKER} {stage.name}"')
        stages.append(f"timestep {stage.timestep_fs / 1000.0}")
        if number > 1 and _changes(protocol, number):
            stages.append("unfix ensemble")
            if protocol.stages[number - 2].ensemble == "nve_rescale":
                stages.append("unfix rescale")
        if number == 1 or _changes(protocol, number):
            if stage.ensemble == "nvt":
                stages.append(f"fix ensemble all nvt{suffix} temp {temperature} {temperature} $(100*dt)")
            elif stage.ensemble == "nve_rescale":
                stages.append(f"fix ensemble all nve{suffix}")
                stages.append(f"fix rescale all temp/rescale{suffix} {protocol.rescale_every} {temperature} {temperature} 1.0 1.0")
            elif stage.ensemble == "nve":
                stages.append(f"fix ensemble all nve{suffix}")
        if rdf_file and stage.name == TIMED_STAGE:
            if positions_dump:  # the RDF average restarts the step count, which LAMMPS refuses under a dump
                stages.append("undump positions")
            stages += _rdf_lines(rdf_file, stage.steps)
            if positions_dump:
                stages += _positions_dump_lines(*positions_dump, append=True)
        stages.append(f"run {stage.steps}")
    if dump_forces:
        stages.append(
            f"write_dump all custom {dump_forces} id type x y z fx fy fz modify sort id format float %20.15g"
        )
    ghost_cutoff = cutoff + NEIGHBOUR_SKIN if engine == "embedded" else None
    return Deck("\n".join(setup) + "\n", "\n".join(stages) + "\n", ghost_cutoff)


def split_before_timed_stage(stages: str) -> tuple:
    """(the commands before the timed stage's marker, the rest): the embedded engine times the timed stage
    alone. A deck without a timed stage is all warm-up."""
    marker = f'print "{STAGE_MARKER} {TIMED_STAGE}"'
    head, found, tail = stages.partition(marker)
    return (head, found + tail) if found else (stages, "")


def _rdf_lines(rdf_file, steps, every=10):
    """Average g(r) over the timed stage (restarting the step count so the average covers it exactly)."""
    if steps % every:
        raise ValueError(f"an RDF average needs a timed stage of a multiple of {every} steps, not {steps}")
    return [
        "reset_timestep 0",
        "compute rdf all rdf 80 cutoff 3.95",  # within the ghost range (model cutoff + skin - rdf skin)
        f"fix rdf_average all ave/time {every} {steps // every} {steps} c_rdf[*] file {rdf_file} mode vector",
    ]


def _positions_dump_lines(file, every, append=False):
    return [f"dump positions all custom {int(every)} {file} id x y z",
            f"dump_modify positions sort id append {'yes' if append else 'no'}"]


def _changes(protocol, number):
    """Stage `number` (1-based) needs new fixes: its ensemble or timestep differs from the previous."""
    previous, current = protocol.stages[number - 2], protocol.stages[number - 1]
    return previous.ensemble != current.ensemble or previous.timestep_fs != current.timestep_fs
