#!/usr/bin/env bash
# Wheels for the lent GPU machine (Python 3.12, torch/numpy/scipy/matplotlib already there, no registry):
# what the trainer and the harness's training columns import beyond that image. Run here, once per session;
# `.whl/` is ignored by git and travels with `carry: [".whl"]`. On the device, start the command with
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
# MD on the device (LAMMPS' library, MPICH) needs more: see benchmarks/RESULTS.md for what was carried.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
for spec in hippynn==0.1.3 ase==3.29.0; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "$spec"
done
ls -l .whl
