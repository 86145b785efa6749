#!/usr/bin/env bash
# The seed's GPU engine beside ours, on one GPU in one call (RESULTS.md's "seed's engine on the same GPU" table).
# On the lent H200, after `source scripts/device_env.sh` (which names the seed's engine in $MLMD_KOKKOS_LMP):
#   bash benchmarks/kokkos_gpu_sweep.sh NETWORK_STATE BOX OUT [harness options, e.g. --zreps 2 8 64 --timed-steps 500]
# exports NETWORK_STATE for CUDA (hippynn's MLIAPInterface with model_device cuda, as a Chicoma campaign exports it),
# then runs the harness's embedded-engine column and the seed's engine through KOKKOS with both exports, interleaved.
set -euo pipefail
state=$1 box=$2 out=$3
shift 3
: "${MLMD_KOKKOS_LMP:?set it to the KOKKOS LAMMPS (scripts/device_env.sh does on the lent H200)}"
mkdir -p "$out/model"
python3 -c "import sys; from mlmd_parsl.science.model.export import export_models; export_models(*sys.argv[1:3], 'cuda')" \
  "$state" "$out/model"
python3 "$(dirname "$0")/harness.py" --model "$out/model/hippynn_lammps_model.pt" --box "$box" --device cuda \
  --site-lmp "$MLMD_KOKKOS_LMP" --site-kokkos --columns engine mliap --ranks 1 --out "$out" "$@"
