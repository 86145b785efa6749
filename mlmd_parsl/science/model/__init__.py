"""The model: dataset, the seed's HIP-NN, training (hippynn's loop and the lean trainer), export for LAMMPS."""
