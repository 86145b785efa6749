"""How an MD case's ranks start: the MPI launcher's prefix and, on GPUs, each rank bound to its node-local GPU."""
import shlex

from .cases import MDCase

# A rank's index on its node, from whichever launcher started it: srun, MPICH's Hydra, Open MPI
LOCAL_RANK = "${SLURM_LOCALID:-${MPI_LOCALRANKID:-${OMPI_COMM_WORLD_LOCAL_RANK:-0}}}"


def launch_prefix(case: MDCase) -> str:
    """Parsl's MPIExecutor fills $PARSL_MPI_PREFIX (mpiexec/srun ...). A packed single-GPU case starts as an
    MPI singleton, with the PMI variables of the srun that started its worker removed (MPI would use them)."""
    if case.packed:
        return "env -u PMI_FD -u PMI_RANK -u PMI_SIZE -u PMI_JOBID -u PMIX_RANK -u PMIX_NAMESPACE "
    return "$PARSL_MPI_PREFIX "


def rank_command(case: MDCase, args: list) -> str:
    """What each rank runs: the program, or on GPUs the seed's binding first, each rank seeing only its
    node-local GPU (its weak-scaling script: `srun bash -c "export CUDA_VISIBLE_DEVICES=$SLURM_LOCALID; lmp ..."`)."""
    program = " ".join(shlex.quote(a) for a in args)
    if not case.binds_one_gpu_per_rank:
        return program
    return f"bash -c {shlex.quote(f'export CUDA_VISIBLE_DEVICES={LOCAL_RANK}; exec {program}')}"
