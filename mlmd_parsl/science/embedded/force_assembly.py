"""Forces and virial from pair forces, on the device: shared by the eager and the captured model steps."""


def assemble(natoms, pair_i, pair_j, pair_coord, pair_forces, energy):
    """Forces on natoms atoms from pair forces f_ij (+ on i, - on j) and (energy, virial) as one float64
    tensor, the virial sum_pairs (x_i - x_j) f_ij in LAMMPS order (xx, yy, zz, xy, xz, yz). Torch only, no
    host sync, so the captured CUDA-graph step uses it too."""
    import torch

    pair_forces = pair_forces.detach().to(torch.float64)
    forces = torch.zeros((natoms, 3), dtype=torch.float64, device=pair_forces.device)
    forces.index_add_(0, pair_i, pair_forces)
    forces.index_add_(0, pair_j, -pair_forces)  # not alpha=-1: torch's CPU index_add_ takes 3-4x longer with it
    w = pair_coord.detach().to(torch.float64).T @ pair_forces  # w[a, b] = sum_pairs pc_a f_b
    scalars = torch.stack([energy.detach().reshape(()).to(torch.float64),
                           w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])
    return forces, scalars
