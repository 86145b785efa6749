"""What the validation suite runs: rank counts, step counts, box and precision (checked when made)."""
from dataclasses import dataclass

from ..lammps.deck import RDF_EVERY
from ..spec_checks import at_least_one, counts, is_count, multiple_of, one_of, require


@dataclass(frozen=True)
class ValidationSpec:
    rank_counts: tuple = (1, 2)
    trajectory_steps: int = 100
    nve_steps: int = 1000
    oracle_equilibration_steps: int = 400  # 2 ps at 5 fs
    oracle_steps: int = 2000  # 10 ps at 5 fs: the md_5fs check and the oracle comparison
    oracle_timestep_fs: float = 5.0  # the MD-HO protocol's step
    # 2,272 atoms (2x2x8, a size of the seed's sweep) for the md_5fs check: at 568 atoms its 12 ps caught the seed's
    # model in about 3 of 4 velocity seeds, at 2,272 in every one measured (docs/physics.md, "the MD check's power")
    md_5fs_replicate: tuple = (2, 2, 8)
    replicate: tuple = (2, 2, 1)
    dtype: str = "float32"  # the production precision of MD runs

    def __post_init__(self):
        counts("rank_counts", self.rank_counts)
        for key in ("replicate", "md_5fs_replicate"):
            value = getattr(self, key)
            require(len(value) == 3 and all(is_count(n) for n in value), key,
                    f"{list(value)}: three integers >= 1 (replicate X Y Z)")
        at_least_one(self, ("trajectory_steps", "nve_steps", "oracle_steps", "oracle_equilibration_steps"))
        require(self.oracle_timestep_fs > 0, "oracle_timestep_fs", f"{self.oracle_timestep_fs} must be > 0 (fs)")
        multiple_of("oracle_steps", self.oracle_steps, RDF_EVERY, f"g(r) is sampled every {RDF_EVERY} steps")
        one_of("dtype", self.dtype, ("float32", "float64"))
