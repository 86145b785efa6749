"""The seed's MD-HO LAMMPS input deck, for every engine: only the force-field lines differ.

Stages: (1) dt 1 fs NVT with velocities created at T, (2) dt 5 fs NVT, (3) NVE + temp/rescale,
(4) equilibration, (5) the timed run whose `Performance:` line is FOM 2. Stages 4 and 5 keep the
NVE + temp/rescale integrator of stage 3. Before every stage the deck prints a marker line
`MLMD_STAGE <name>` so the log parser can find the timed run's line without counting.
"""
from dataclasses import dataclass, replace

from ..choices import ForceFieldKind

TEMPERATURE_K = 1111.0
VELOCITY_SEED = 8971317
SILVER_MASS = 107.8682
MODEL_FIX_ID = "mlmd_model"
STAGE_MARKER = "MLMD_STAGE"
TIMED_STAGE = "timed"
RDF_EVERY = 10  # steps between the g(r) samples of the timed stage


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


@dataclass(frozen=True)
class ForceField:
    """What computes the forces: our model through `fix external` (the embedded engine), `pair_style mliap
    unified` on an export (the seed's engine), or an EAM potential (the oracle). `cutoff`: the model's or
    potential's reach in Angstrom, which the ghosts must cover (unused by mliap, which LAMMPS asks)."""
    kind: ForceFieldKind
    file: str = None  # the ML-IAP export or the EAM potential
    cutoff: float = 4.0

    @classmethod
    def model_fix(cls, cutoff=4.0):
        return cls(ForceFieldKind.MODEL_FIX, cutoff=cutoff)

    @classmethod
    def mliap(cls, model_file):
        return cls(ForceFieldKind.MLIAP, file=str(model_file))

    @classmethod
    def eam(cls, eam_file, cutoff=4.0):
        return cls(ForceFieldKind.EAM, file=str(eam_file), cutoff=cutoff)

    def lines(self) -> list:
        if self.kind is ForceFieldKind.MODEL_FIX:
            # No pair style: LAMMPS keeps ghosts out to cutoff + skin (comm cutoff) and builds no neighbour
            # list of its own (pair_style zero's unused list cost 18% of a GPU step at 85,200 atoms); the model is
            # the fix.
            return [
                "pair_style none",
                f"comm_modify cutoff {self.cutoff + NEIGHBOUR_SKIN}",
                f"fix {MODEL_FIX_ID} all external pf/callback 1 1",
                f"fix_modify {MODEL_FIX_ID} energy yes virial yes",
            ]
        if self.kind is ForceFieldKind.MLIAP:
            return [f"pair_style mliap unified {self.file} 0", "pair_coeff * * Ag"]
        # EAM: ghosts at least as far as the model's (LAMMPS takes the larger of this and the potential's cutoff
        # + skin): the g(r) of a short-ranged oracle (eam_oracle.py) reaches past its own cutoff
        return ["pair_style eam", f"pair_coeff * * {self.file}", f"comm_modify cutoff {self.cutoff + NEIGHBOUR_SKIN}"]

    @property
    def ghost_cutoff(self):
        return self.cutoff + NEIGHBOUR_SKIN if self.kind is ForceFieldKind.MODEL_FIX else None


@dataclass(frozen=True)
class DeckOutputs:
    """What a deck writes besides its log: the last step's forces, the timed stage's g(r), and positions
    sampled over the whole run (closest approach) as (file, every N steps)."""
    dump_forces: str = None
    rdf_file: str = None
    positions_dump: tuple = None


def make_deck(box_file, replicate, protocol: Protocol, force_field: ForceField = ForceField.model_fix(),
              kokkos=False, outputs: DeckOutputs = DeckOutputs(), temperature=TEMPERATURE_K,
              velocity_seed=VELOCITY_SEED) -> Deck:
    """The deck of `protocol` on the unit box `box_file` replicated `replicate` times; `kokkos`: the /kk fixes."""
    nx, ny, nz = replicate
    setup = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        "atom_modify map array",
        f"read_data {box_file}",
        f"mass 1 {SILVER_MASS}",
        f"replicate {nx} {ny} {nz}",
        *force_field.lines(),
        f"neighbor {NEIGHBOUR_SKIN} bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_style custom step temp pe ke etotal press pxx pyy pzz pxy pxz pyz",
        "thermo_modify norm no flush yes",
        f"thermo {protocol.thermo_every}",
    ]
    stages = []
    if any(stage.steps > 0 for stage in protocol.stages):
        stages.append(
            f"velocity all create {temperature} {velocity_seed} mom yes rot yes dist gaussian loop geom"
        )
    if outputs.positions_dump:
        stages += _positions_dump_lines(*outputs.positions_dump)
    for number, stage in enumerate(protocol.stages, start=1):
        stages += _stage_lines(protocol, number, "/kk" if kokkos else "", temperature, outputs)
    if outputs.dump_forces:
        stages.append(
            f"write_dump all custom {outputs.dump_forces} id type x y z fx fy fz modify sort id format float %20.15g"
        )
    return Deck("\n".join(setup) + "\n", "\n".join(stages) + "\n", force_field.ghost_cutoff)


def _stage_lines(protocol, number, suffix, temperature, outputs) -> list:
    """Stage `number` (1-based): its marker, timestep, the fixes it changes, its g(r) average and its run."""
    stage = protocol.stages[number - 1]
    lines = [f'print "{STAGE_MARKER} {stage.name}"', f"timestep {stage.timestep_fs / 1000.0}"]
    if number > 1 and _changes(protocol, number):
        lines.append("unfix ensemble")
        if protocol.stages[number - 2].ensemble == "nve_rescale":
            lines.append("unfix rescale")
    if number == 1 or _changes(protocol, number):
        if stage.ensemble == "nvt":
            lines.append(f"fix ensemble all nvt{suffix} temp {temperature} {temperature} $(100*dt)")
        elif stage.ensemble == "nve_rescale":
            lines.append(f"fix ensemble all nve{suffix}")
            lines.append(f"fix rescale all temp/rescale{suffix} {protocol.rescale_every} {temperature} {temperature} 1.0 1.0")
        elif stage.ensemble == "nve":
            lines.append(f"fix ensemble all nve{suffix}")
    if outputs.rdf_file and stage.name == TIMED_STAGE:
        if outputs.positions_dump:  # the RDF average restarts the step count, which LAMMPS refuses under a dump
            lines.append("undump positions")
        lines += _rdf_lines(outputs.rdf_file, stage.steps)
        if outputs.positions_dump:
            lines += _positions_dump_lines(*outputs.positions_dump, append=True)
    lines.append(f"run {stage.steps}")
    return lines


def split_before_timed_stage(stages: str) -> tuple:
    """(the commands before the timed stage's marker, the rest): the embedded engine times the timed stage
    alone. A deck without a timed stage is all warm-up."""
    marker = f'print "{STAGE_MARKER} {TIMED_STAGE}"'
    head, found, tail = stages.partition(marker)
    return (head, found + tail) if found else (stages, "")


def _rdf_lines(rdf_file, steps, every=RDF_EVERY):
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
