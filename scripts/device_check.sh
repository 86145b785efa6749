#!/usr/bin/env bash
# The lent GPU machine's work, in parts that each fit one call (issue 38): the pair kernels and the lean export's
# step against their floor, the seed's engine beside ours at the seed's sizes, 1,022,400 atoms, and tests/gpu.
# Here, first: bash scripts/device_bundle.sh, and copy a physical model's network_state.pt and ag_box.data into
# .device/model/. On the device (carry .device):
#   bash scripts/device_check.sh OUT_DIR [PART ...]     parts: kernels sweep big tests (default: all four)
# Each part has its own time limit (KERNELS_S, SWEEP_S, BIG_S, TESTS_S) so that a call ends inside the device's 10
# minutes and says what ran; PYTEST_K narrows the tests, SWEEP_ZREPS the sweep's sizes. The tables are printed last.
set -uo pipefail
out=${1:?OUT_DIR}
shift
parts=${*:-kernels sweep big tests}
mkdir -p "$out"
source scripts/device_env.sh || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
state=.device/model/network_state.pt
box=.device/model/ag_box.data
python3 -c "import sys; from mlmd_parsl.science.model.export import export_models; export_models(*sys.argv[1:3], 'cuda')" \
  "$state" /tmp/model_cuda || exit 1

for part in $parts; do
  case $part in
    kernels)  # 85,200 and 1,022,400 atoms
      timeout "${KERNELS_S:-200}" python3 benchmarks/pair_kernels_gpu.py --model /tmp/model_cuda/hippynn_lammps_model.pt \
        --box "$box" --zreps 300 3600 2>&1 | tee "$out/kernels.log" ;;
    sweep)  # 568, 4,544, 18,176, 85,200 atoms: the seed's engine with hippynn's export beside ours
      # shellcheck disable=SC2086
      timeout "${SWEEP_S:-330}" bash benchmarks/kokkos_gpu_sweep.sh "$state" "$box" /tmp/sweep --zreps ${SWEEP_ZREPS:-2 16 64 300} \
        --timed-steps 500 2>&1 | tee "$out/sweep.log"
      cp /tmp/sweep/*.json "$out/" 2>/dev/null ;;
    big)  # 1,022,400 atoms, fewer timed steps
      timeout "${BIG_S:-420}" bash benchmarks/kokkos_gpu_sweep.sh "$state" "$box" /tmp/big --zreps 3600 \
        --timed-steps 100 2>&1 | tee "$out/big.log"
      mkdir -p "$out/big" && cp /tmp/big/*.json "$out/big/" 2>/dev/null ;;
    tests)
      timeout "${TESTS_S:-330}" python3 -m pytest -q -p no:cacheprovider tests/gpu -k "${PYTEST_K:-}" 2>&1 \
        | tee "$out/gpu_tests.log" ;;
    *) echo "device_check.sh: unknown part '$part' (kernels, sweep, big, tests)" >&2; exit 2 ;;
  esac
  echo "part $part exit: ${PIPESTATUS[0]}" | tee -a "$out/parts.txt"
done

echo "== tables"
cat "$out/gpu.txt"
grep -h -A12 "^| atoms" "$out/kernels.log" 2>/dev/null | grep -v "^    "
for log in "$out/sweep.log" "$out/big.log"; do
  [ -f "$log" ] && sed -n "/^Seed's engine (pair_style mliap unified)/,/^$/p" "$log"
done
tail -n 3 "$out/gpu_tests.log" 2>/dev/null
cat "$out/parts.txt"
