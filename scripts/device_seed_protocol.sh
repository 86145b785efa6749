#!/usr/bin/env bash
# Issue 39's call on the lent GPU: the seed's training protocol (840 frames, up to 5,000 epochs, early stopping with
# patience 50, the seed's network and initial sensitivities) for seeds 0, 1 and 2 on both oracles' sets, the six
# trainings side by side on the one GPU, each under a wall limit (a run stopped by it says so in its log).
# Here, first: scripts/device_bundle.sh, and the two sets in .device/data/ (ag_u3_short_840.xyz, ag_u3_840.xyz:
# SyntheticSpec(frames=840, oracle=...), see benchmarks/RESULTS.md). On the device (carry .device):
#   bash scripts/device_seed_protocol.sh OUT_DIR [WALL_S, default 480] [extra options for every training]
# OUT_DIR/<oracle>-<seed>/ holds each model (network_state.pt) for `python -m mlmd_parsl.validate` here.
set -uo pipefail
out=${1:?OUT_DIR}
wall=${2:-480}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$out"
source scripts/device_env.sh || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for oracle in ag_u3_short ag_u3; do
  for seed in 0 1 2; do
    run="$out/$oracle-$seed"
    timeout "$wall" python3 benchmarks/seed_protocol_training.py --dataset ".device/data/${oracle}_840.xyz" \
      --oracle "$oracle" --device cuda --seed "$seed" --out "$run" "$@" > "$run.log" 2>&1 &
  done
done
wait
for log in "$out"/*.log; do
  echo "== $(basename "$log" .log): $(tail -n 1 "$log")"
done
