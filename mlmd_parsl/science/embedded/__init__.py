"""The embedded engine: LAMMPS integrates, a fix external callback evaluates the model each step (pairs,
ghost forces, model steps)."""
