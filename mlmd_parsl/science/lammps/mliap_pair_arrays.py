"""ML-IAP's pair arrays on several MPI ranks: LAMMPS' bug, the deck lines that keep it from striking, and a replay of
LAMMPS' growth rule that says from a rank's (list atoms, pairs) per call whether a run met the bug.

The bug (issue 36; docs/crossroads.md): LAMMPS' `MLIAPData::grow_neigharrays` (src/ML-IAP/mliap_data.cpp, builds
whose MLIAPData has `lmp_firstneigh`, e.g. the develop branch of January 2025, version 19 Nov 2024) regrows
`lmp_firstneigh` (one row per list atom) whenever the rank's pair count exceeds its largest so far, with the
rank's *current* list atoms as its rows instead of the most it has had (`natomneigh_max`). A rank that lost atoms
at a neighbour rebuild and then counts more pairs than ever gets a short row array; once it regains atoms,
`generate_neighdata` writes through row pointers past that array: SIGSEGV, or a corrupted heap.

The workaround needs no change to LAMMPS: before the first stage the deck evaluates the box once compressed
(`run 0` on it; no step is taken; the box bounds are restored to the last bit, the positions to round-off), so
every rank's pair arrays
are sized for a denser box than the run reaches, with all its atoms as rows. The pair count then never exceeds that
size, the regrowth with short rows never happens, and the run is the seed's from there on. The cost is one model
evaluation before the timing and arrays sized for that denser box (LAMMPS' own lmp_firstneigh is list atoms x
all pairs ints per rank).
"""
from dataclasses import dataclass, field

PRESIZE_STAGE = "presize_pair_arrays"  # the deck's stage marker for the workaround's `run 0`
# Linear compression of the presizing box: 0.93 brings silver's second neighbour shell (4.1-4.2 A) inside the seed
# network's 4 A cutoff: 1.30x the pairs of the README model's starting box, 1.19x the seed's; hot runs at 1111 K
# then peaked at 0.81x and 0.85x of the presized size (benchmarks/RESULTS.md, issue 36).
PRESIZE_SCALE = 0.93
# A box whose neighbour shells leave no shell between the cutoff and cutoff / 0.93 (another network's cutoff) is
# compressed further, until it counts at least this many times the pairs of the box as it is (hot runs grew them
# by at most 1.044x): presize_scale.
PRESIZE_MIN_GROWTH = 1.15
MOST_COMPRESSION = 0.8
AUTO, ALWAYS, NEVER = "auto", "always", "never"  # md.mliap_presize (not on/off, which YAML reads as booleans)
PRESIZE_CHOICES = (AUTO, ALWAYS, NEVER)


def presize_lines(stage_marker: str, scale: float = PRESIZE_SCALE) -> list:
    """The deck lines: the box bounds kept to the last bit, the box compressed by `scale` (atoms with it), one
    `run 0`, the bounds restored. After `replicate` and the force field, before the first stage."""
    if not 0.0 < scale < 1.0:
        raise ValueError(f"presize scale must be in (0, 1), not {scale}")
    bounds = [f"{axis}{end}" for axis in "xyz" for end in ("lo", "hi")]
    return [
        f'print "{stage_marker} {PRESIZE_STAGE}"',
        *(f"variable mlmd_{b} string $({b}:%.17g)" for b in bounds),
        f"change_box all x scale {scale:g} y scale {scale:g} z scale {scale:g} remap",
        "run 0 post no",
        "change_box all " + " ".join(f"{axis} final ${{mlmd_{axis}lo}} ${{mlmd_{axis}hi}}" for axis in "xyz")
        + " remap units box",
        *(f"variable mlmd_{b} delete" for b in bounds),
    ]


def presize_scale(unit_box_file, cutoff: float, scale: float = PRESIZE_SCALE,
                  min_growth: float = PRESIZE_MIN_GROWTH) -> float:
    """`scale`, or the mildest compression below it (in steps of 0.01, down to MOST_COMPRESSION) under which the
    periodic unit box counts at least `min_growth` times its pairs within `cutoff` (per atom, so any replicate
    of it alike)."""
    import math

    import ase.io
    import numpy as np
    from scipy.spatial import cKDTree

    unit = ase.io.read(str(unit_box_file), format="lammps-data", atom_style="atomic")
    reach = cutoff / MOST_COMPRESSION
    lengths = unit.cell.lengths()
    reps = [max(1, math.ceil(2.0 * reach / length)) for length in lengths]  # no pair meets its own image
    atoms = unit.repeat(reps)
    tree = cKDTree(np.mod(atoms.positions, atoms.cell.lengths()), boxsize=atoms.cell.lengths())
    distances = tree.sparse_distance_matrix(tree, reach, output_type="ndarray")["v"]
    distances = distances[distances > 0.0]

    def pairs(reach_a):
        return int(np.count_nonzero(distances < reach_a))

    as_it_is = pairs(cutoff)
    candidate = scale
    while candidate > MOST_COMPRESSION and pairs(cutoff / candidate) < min_growth * as_it_is:
        candidate = round(candidate - 0.01, 2)
    return max(candidate, MOST_COMPRESSION)


def presize_applies(setting: str, ranks: int, kokkos: bool) -> bool:
    """Whether a case's deck presizes: `always`, `never`, or `auto`: with several ranks of the CPU engine (one rank's
    atom count never changes; the Kokkos engine keeps its arrays in a class of its own, not examined)."""
    if setting not in PRESIZE_CHOICES:
        raise ValueError(f"mliap_presize must be one of {PRESIZE_CHOICES}, not {setting!r}")
    return setting == ALWAYS or (setting == AUTO and ranks > 1 and not kokkos)


@dataclass
class PairArrayReplay:
    """What LAMMPS' growth rule did with one rank's calls: `short_regrowths`, the calls at which lmp_firstneigh was
    regrown with fewer rows than the rank's most list atoms; `overflows`, the calls at which generate_neighdata
    wrote past its rows; `first_pairs`, the count its arrays were sized for at the first call (the presizing `run 0`
    where the deck has one), and `most_later_pairs`, the largest count after it."""
    calls: int = 0
    first_pairs: int = 0
    most_later_pairs: int = 0
    short_regrowths: list = field(default_factory=list)
    overflows: list = field(default_factory=list)

    @property
    def pair_growth(self) -> float:
        """The largest later pair count over the first call's: above 1, the arrays were regrown."""
        return self.most_later_pairs / self.first_pairs if self.first_pairs else 0.0


def replay_grow_neigharrays(calls) -> PairArrayReplay:
    """`calls`: (list atoms, pairs) of one rank's force calls in order (what `pair_style mliap` hands the model as
    `nlistatoms` and `npairs`). Replays grow_neigharrays as LAMMPS (develop, January 2025) has it: the atom arrays
    and lmp_firstneigh grow to the list atoms when they exceed the most so far; the pair arrays and lmp_firstneigh
    grow when the pairs exceed the most so far, lmp_firstneigh with the *current* list atoms as rows."""
    replay = PairArrayReplay()
    most_atoms = most_pairs = rows = 0
    for index, (atoms, pairs) in enumerate(calls):
        if index == 0:
            replay.first_pairs = pairs
        else:
            replay.most_later_pairs = max(replay.most_later_pairs, pairs)
        if atoms > most_atoms:
            most_atoms = rows = atoms
        if pairs > most_pairs:
            most_pairs = pairs
            rows = atoms
            if atoms < most_atoms:
                replay.short_regrowths.append(index)
        if atoms > rows:
            replay.overflows.append(index)
        replay.calls = index + 1
    return replay
