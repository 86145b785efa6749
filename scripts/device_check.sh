#!/usr/bin/env bash
# One call on the lent GPU machine: the seed's Kokkos engine through the project's own deck and commands
# (tests/gpu/test_kokkos_engine.py), then the seed's engine beside ours on the same GPU (kokkos_gpu_sweep.sh).
# Here, first: bash scripts/device_bundle.sh, and copy a physical model's network_state.pt and ag_box.data into
# .device/model/. On the device (carry .device):
#   bash scripts/device_check.sh OUT_DIR [sweep sizes, default: 2 64 300]
# Each part has its own time limit, so that the call ends inside the device's 10 minutes and says what ran;
# PYTEST_K narrows the tests (e.g. PYTEST_K="not preflight" for a second call), SWEEP_S and TESTS_S the limits.
set -uo pipefail
out=${1:?OUT_DIR}
shift
zreps=${*:-2 64 300}
mkdir -p "$out"
source scripts/device_env.sh || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
timeout "${TESTS_S:-330}" python3 -m pytest -q -p no:cacheprovider -x tests/gpu/test_kokkos_engine.py -k "${PYTEST_K:-}" \
  2>&1 | tee "$out/gpu_tests.log"
echo "tests/gpu/test_kokkos_engine.py exit: ${PIPESTATUS[0]}" | tee -a "$out/gpu_tests.log"
if [ -f .device/model/network_state.pt ]; then
  # shellcheck disable=SC2086
  timeout "${SWEEP_S:-230}" bash benchmarks/kokkos_gpu_sweep.sh .device/model/network_state.pt .device/model/ag_box.data \
    /tmp/sweep --zreps $zreps --timed-steps 500 2>&1 | tee "$out/sweep.log"
  echo "kokkos_gpu_sweep.sh exit: ${PIPESTATUS[0]}" | tee -a "$out/sweep.log"
  cp /tmp/sweep/*.json "$out/" 2>/dev/null
fi
