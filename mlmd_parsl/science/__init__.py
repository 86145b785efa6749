"""The benchmark's science: dataset, training, export, LAMMPS deck, engine, log parsing, plots.

Nothing here imports parsl; every function can be called and tested on its own.
"""
