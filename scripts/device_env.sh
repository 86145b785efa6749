# Sourced on the lent GPU machine (see scripts/device_bundle.sh): unpack the bundle once per machine and put
# its Python packages, MPICH libraries and mpiexec on the paths; this checkout is importable as mlmd_parsl.
# With the seed's GPU engine in the bundle, unpack it too and name its lmp in MLMD_KOKKOS_LMP.
root=/tmp/mlmd_device
if [ ! -d "$root/site" ]; then
  mkdir -p "$root" && tar -C "$root" -xJf .device/bundle.tar.xz || return 1
fi
export PYTHONPATH="$PWD:$root/site${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$root/bin:$PATH"
export HIPPYNN_USE_CUSTOM_KERNELS=pytorch PYTHONUNBUFFERED=1
if [ -f .device/lammps-kokkos-cuda/setup.sh ]; then
  if [ ! -x /tmp/lammps-kokkos-cuda/lmp ]; then
    sh .device/lammps-kokkos-cuda/setup.sh /tmp/lammps-kokkos-cuda >/dev/null || return 1
  fi
  export MLMD_KOKKOS_LMP=/tmp/lammps-kokkos-cuda/lmp
fi
