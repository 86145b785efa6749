"""What the validation suite runs: rank counts, step counts, box and precision."""
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationSpec:
    rank_counts: tuple = (1, 2)
    trajectory_steps: int = 100
    nve_steps: int = 1000
    oracle_equilibration_steps: int = 400  # 2 ps at 5 fs
    oracle_steps: int = 2000  # 10 ps at 5 fs: the md_5fs check and the oracle comparison
    oracle_timestep_fs: float = 5.0  # the MD-HO protocol's step
    replicate: tuple = (2, 2, 1)
    dtype: str = "float32"  # the production precision of MD runs
