"""mlmd_parsl: the ATS-5 MLMD benchmark (HIPNN training + LAMMPS MD for silver) as a Parsl application."""

__version__ = "0.1.0"
