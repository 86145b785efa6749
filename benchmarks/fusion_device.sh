#!/usr/bin/env bash
# One call on the lent GPU: how often and how soon MD at 1111 K sees the seed's model (TEST_AG_MODEL.pt, converted
# on load) fuse atoms, beside our README model, with benchmarks/fusion_detection.py (docs/physics.md, "the MD
# check's power"). Here first: bash scripts/device_bundle.sh, and copy into .device/model/ TEST_AG_MODEL.pt,
# seed_ag_box.data (../shared/reference) and readme_model.pt (the README run's train/hippynn_lammps_model.pt).
# On the device (carry .device):  bash benchmarks/fusion_device.sh OUT_DIR [checks|sizes|all]  (each part < 10 min)
set -uo pipefail
out=${1:?OUT_DIR}
part=${2:-all}
mkdir -p "$out"
source scripts/device_env.sh || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
seed=.device/model/TEST_AG_MODEL.pt
ours=.device/model/readme_model.pt
box=.device/model/seed_ag_box.data
measure() {  # label model replicate(3) timestep ps seeds [time limit s]
  local label=$1 model=$2 x=$3 y=$4 z=$5 dt=$6 ps=$7 seeds=$8 limit=${9:-120}
  timeout "$limit" python3 benchmarks/fusion_detection.py --model "$model" --box "$box" --replicate "$x" "$y" "$z" \
    --timestep-fs "$dt" --ps "$ps" --seeds "$seeds" --device cuda --compile off --label "$label" \
    --json "$out/$label.json" 2>&1 | grep -v Warning | tee "$out/$label.log" | tail -2
}
if [ "$part" != sizes ]; then
  # the md_5fs check's run (2 ps + 10 ps of NVT at 5 fs) at the new size and the old one, both models
  measure check_2x2x8_seed "$seed" 2 2 8 5 12 16
  measure check_2x2x2_seed "$seed" 2 2 2 5 12 16
  measure check_2x2x8_ours "$ours" 2 2 8 5 12 8
  measure long_2x2x8_ours "$ours" 2 2 8 5 50 2
fi
if [ "$part" != checks ]; then
  # the seed's first stage (NVT at 1 fs) at the seed's sizes: how soon its model fuses
  measure seed_1fs_568 "$seed" 2 2 2 1 10 4
  measure seed_1fs_2272 "$seed" 2 2 8 1 5 4
  measure seed_1fs_9088 "$seed" 2 2 32 1 2 3
  measure seed_1fs_18176 "$seed" 2 2 64 1 1 3
fi
