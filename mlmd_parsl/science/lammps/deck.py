"""The seed's MD-HO LAMMPS input deck, for every engine: only the force-field lines differ.

The MD-HO profiles write the seed's MD-HO.in (GPU) / MD-HO-cpu.in (CPU) line for line (design.md, section 1):
`timestep 0.001` before the force field, the no-op `change_box`, the seed's thermo columns, and five stages:
(1) `fix 1 nvt` at 1 fs with velocities created at T (LAMMPS' default `loop all`), `unfix 1`; (2) 5 fs,
`fix 2 nvt`, `unfix 2`; (3) `fix 3 nve` + `fix 4 temp/rescale`, `unfix 4`; (4) equilibration and (5) the timed
run, both plain NVE under fix 3. On GPUs through KOKKOS the deck names `nvt/kk` and `nve/kk` as the seed does and
leaves `temp/rescale` plain: the `-sf kk` switch gives it the /kk variant where the site's LAMMPS has one (since
late 2023) and the host one where it has not, so an older LAMMPS runs the deck too.

Before every stage the deck prints a marker line `MLMD_STAGE <name>` (a `print`, no work) so the log parser
finds the timed run's line without counting. Other protocols (the validation's) use the same builder with their
own thermo columns and rank-independent `velocity ... loop geom`.
"""
from dataclasses import dataclass, replace

from ..choices import ForceFieldKind
from .mliap_pair_arrays import presize_lines

TEMPERATURE_K = 1111.0
VELOCITY_SEED = 8971317
SILVER_MASS = 107.8682
MODEL_FIX_ID = "mlmd_model"
STAGE_MARKER = "MLMD_STAGE"
TIMED_STAGE = "timed"
RDF_EVERY = 10  # steps between the g(r) samples of the timed stage
SEED_THERMO = "step pe ke temp pxx pyy pzz pxy pxz pyz"  # the seed's thermo_style custom columns
CHECK_THERMO = "step temp pe ke etotal press pxx pyy pzz pxy pxz pyz"  # the checks read etotal and press too

NVT, NVE_RESCALE, NVE = "nvt", "nve_rescale", "nve"  # a stage's ensemble


@dataclass(frozen=True)
class Stage:
    name: str
    steps: int
    timestep_fs: float
    ensemble: str  # NVT, NVE_RESCALE (NVE with temp/rescale) or NVE


@dataclass(frozen=True)
class Protocol:
    name: str
    stages: tuple
    thermo_every: int
    rescale_every: int = 100  # steps between temp/rescale's rescalings (the seed's 100)
    thermo_columns: str = CHECK_THERMO
    velocity_loop: str = "geom"  # '' = LAMMPS' default (loop all), as the seed's deck

    @property
    def total_steps(self):
        return sum(stage.steps for stage in self.stages)


def _md_ho(name, steps, thermo_every, rescale_every=100):
    s1, s2, s3, s4, s5 = steps
    return Protocol(
        name,
        (
            Stage("nvt_1fs", s1, 1.0, NVT),
            Stage("nvt_5fs", s2, 5.0, NVT),
            Stage("nve_rescale", s3, 5.0, NVE_RESCALE),
            Stage("equilibration", s4, 5.0, NVE),  # the seed's `unfix 4`: rescaling ends with stage 3
            Stage(TIMED_STAGE, s5, 5.0, NVE),
        ),
        thermo_every,
        rescale_every=rescale_every,
        thermo_columns=SEED_THERMO,
        velocity_loop="",
    )


PROFILES = {
    "ats5": _md_ho("ats5", (10_000, 10_000, 10_000, 5_000, 10_000), 1000),
    # The seed's stages, far shorter. The crystal started at 1111 K gives half its kinetic energy to the
    # potential, and the seed's temp/rescale every 100 steps would never fire in 60 steps: it rescales every 10
    # (6 times) here, so the timed stage runs at the protocol's temperature (1,127-1,129 K measured at 568 and
    # 2,272 atoms; with the seed's 100, 20 rescaling steps and 10 equilibration steps it ran at 823 K).
    "quick": _md_ho("quick", (20, 20, 60, 20, 60), 10, rescale_every=10),
}
SEED_PROFILE = "ats5"  # the seed's own step counts


def single_stage_protocol(steps: int, timestep_fs: float = 1.0) -> Protocol:
    """One timed NVE stage (the standalone `--steps N`); 0 steps evaluates the box as given."""
    return Protocol(f"steps{steps}", (Stage(TIMED_STAGE, steps, timestep_fs, NVE),), max(1, steps // 100))


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


def lammps_word(path) -> str:
    """A path as one word of a LAMMPS input line: as it is where LAMMPS reads it so, else in double quotes (LAMMPS
    then keeps spaces and does not read # as a comment or $ as a variable), else in single quotes."""
    text = str(path)
    if "\n" in text or ('"' in text and "'" in text):
        raise ValueError(f"path {text!r}: a LAMMPS input line cannot hold a newline, or both kinds of quote")
    if not any(c.isspace() or c in "#$'\"&" for c in text):
        return text
    return f'"{text}"' if '"' not in text else f"'{text}'"


@dataclass(frozen=True)
class Deck:
    setup: str  # up to and including the force field; the embedded engine hooks its callback after it
    stages: str
    ghost_cutoff: float = None  # embedded engine: how far LAMMPS keeps ghosts (cutoff + skin), for its check

    @property
    def text(self):
        return self.setup + self.stages


NEIGHBOUR_SKIN = 2.0  # LAMMPS' default in metal units (the seed's deck keeps it), stated so the ghost reach is explicit


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

    def lines_before_replicate(self) -> list:
        """The seed's place for its pair style: after the timestep, before `mass` and `replicate`."""
        if self.kind is ForceFieldKind.MLIAP:
            return [f"pair_style mliap unified {lammps_word(self.file)} 0", "pair_coeff * * Ag"]
        return []

    def lines_after_replicate(self) -> list:
        if self.kind is ForceFieldKind.MODEL_FIX:
            # No pair style: LAMMPS keeps ghosts out to cutoff + skin (comm cutoff) and builds no neighbour
            # list of its own (pair_style zero's unused list cost 18% of a GPU step at 85,200 atoms); the model is
            # the fix (defined after `replicate`, which would not carry a fix's per-atom state).
            return [
                "pair_style none",
                f"comm_modify cutoff {self.cutoff + NEIGHBOUR_SKIN}",
                f"fix {MODEL_FIX_ID} all external pf/callback 1 1",
                f"fix_modify {MODEL_FIX_ID} energy yes virial yes",
            ]
        if self.kind is ForceFieldKind.EAM:
            # after `mass`, so the potential file's mass applies (as the oracle's data were made); ghosts at least
            # as far as the model's (LAMMPS takes the larger of this and the potential's cutoff + skin): the g(r)
            # of a short-ranged oracle (eam_oracle.py) reaches past its own cutoff
            return ["pair_style eam", f"pair_coeff * * {lammps_word(self.file)}",
                    f"comm_modify cutoff {self.cutoff + NEIGHBOUR_SKIN}"]
        return []

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
              velocity_seed=VELOCITY_SEED, mliap_presize_scale=None) -> Deck:
    """The deck of `protocol` on the unit box `box_file` replicated `replicate` times; `kokkos`: the seed's /kk
    integrators; `mliap_presize_scale`: ML-IAP's pair arrays sized on the box compressed by this factor before the first
    stage, which keeps LAMMPS' pair-array bug on several ranks from striking (mliap_pair_arrays.py)."""
    if mliap_presize_scale and force_field.kind is not ForceFieldKind.MLIAP:
        raise ValueError("presizing ML-IAP's pair arrays is for `pair_style mliap` decks only")
    nx, ny, nz = replicate
    first_timestep = protocol.stages[0].timestep_fs if protocol.stages else 1.0
    setup = [
        "units metal",
        "boundary p p p",
        "neigh_modify every 1 delay 0 check yes",
        "atom_style atomic",
        f"read_data {lammps_word(box_file)}",
        f"timestep {first_timestep / 1000.0:g}",
        *force_field.lines_before_replicate(),
        f"mass 1 {SILVER_MASS}",
        "change_box all x scale 1.0 y scale 1.0 z scale 1.0 remap units box",  # the seed's no-op
        f"replicate {nx} {ny} {nz}",
        *force_field.lines_after_replicate(),
        f"thermo {protocol.thermo_every}",
        f"thermo_style custom {protocol.thermo_columns}",
    ]
    velocity = None
    if any(stage.steps > 0 for stage in protocol.stages):
        loop = f" loop {protocol.velocity_loop}" if protocol.velocity_loop else ""
        velocity = f"velocity all create {temperature:g} {velocity_seed} mom yes rot yes dist gaussian{loop}"
    stages = presize_lines(STAGE_MARKER, mliap_presize_scale) if mliap_presize_scale else []
    if outputs.positions_dump:
        stages += _positions_dump_lines(*outputs.positions_dump)
    fixes = _Fixes("/kk" if kokkos else "", temperature, protocol.rescale_every)
    for number, stage in enumerate(protocol.stages):
        following = protocol.stages[number + 1] if number + 1 < len(protocol.stages) else None
        stages += _stage_lines(stage, protocol.stages[number - 1] if number else None, following, fixes,
                               velocity if number == 0 else None, outputs)
    if outputs.dump_forces:
        stages.append(
            f"write_dump all custom {lammps_word(outputs.dump_forces)} id type x y z fx fy fz modify sort id format "
            "float %20.15g"
        )
    return Deck("\n".join(setup) + "\n", "\n".join(stages) + "\n", force_field.ghost_cutoff)


class _Fixes:
    """The integrator fixes as the seed numbers them (1, 2, 3, ...), which are on, and the lines that change them."""

    def __init__(self, suffix, temperature, rescale_every):
        self.suffix, self.temperature, self.rescale_every = suffix, temperature, rescale_every
        self.next_id, self.ensemble, self.rescale = 1, None, None

    def _new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def start(self, stage: Stage) -> list:
        lines = []
        if self.ensemble is None:
            self.ensemble = self._new_id()
            t = f"{self.temperature:g}"
            lines.append(f"fix {self.ensemble} all nvt{self.suffix} temp {t} {t} $(100.0*dt)" if stage.ensemble == NVT
                         else f"fix {self.ensemble} all nve{self.suffix}")
        if stage.ensemble == NVE_RESCALE and self.rescale is None:
            self.rescale = self._new_id()
            t = f"{self.temperature:g}"
            lines.append(f"fix {self.rescale} all temp/rescale {self.rescale_every} {t} {t} 1.0 1.0")  # plain: -sf kk
        return lines

    def end_before(self, current: Stage, following: Stage) -> list:
        """`unfix` lines after `current`'s run: rescaling ends when the next stage has none, the integrator when
        the next needs another (NVT <-> NVE, or a new timestep for NVT's damping $(100.0*dt))."""
        lines = []
        if self.rescale is not None and following.ensemble != NVE_RESCALE:
            lines.append(f"unfix {self.rescale}")
            self.rescale = None
        if _integrator(current) != _integrator(following) or (
                following.ensemble == NVT and following.timestep_fs != current.timestep_fs):
            lines.append(f"unfix {self.ensemble}")
            self.ensemble = None
        return lines


def _integrator(stage: Stage) -> str:
    return NVT if stage.ensemble == NVT else NVE


def _stage_lines(stage, previous, following, fixes: _Fixes, velocity, outputs) -> list:
    """One stage: its marker, timestep, the fixes it starts, its g(r) average, its run and the fixes that end
    after it."""
    lines = [f'print "{STAGE_MARKER} {stage.name}"']
    if previous is not None and previous.timestep_fs != stage.timestep_fs:
        lines.append(f"timestep {stage.timestep_fs / 1000.0:g}")
    lines += fixes.start(stage)
    if velocity:
        lines.append(velocity)  # after fix 1, as the seed's deck
    if outputs.rdf_file and stage.name == TIMED_STAGE:
        if outputs.positions_dump:  # the RDF average restarts the step count, which LAMMPS refuses under a dump
            lines.append("undump positions")
        lines += _rdf_lines(outputs.rdf_file, stage.steps)
        if outputs.positions_dump:
            lines += _positions_dump_lines(*outputs.positions_dump, append=True)
    lines.append(f"run {stage.steps}")
    if following is not None:
        lines += fixes.end_before(stage, following)
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
        f"fix rdf_average all ave/time {every} {steps // every} {steps} c_rdf[*] file {lammps_word(rdf_file)} "
        "mode vector",
    ]


def _positions_dump_lines(file, every, append=False):
    return [f"dump positions all custom {int(every)} {lammps_word(file)} id x y z",
            f"dump_modify positions sort id append {'yes' if append else 'no'}"]
