"""Where the engine's callback spends its time, phase by phase, summed over the calls since the last reset.

The phases end where the code already waits for the device (the positions' copy and the displacement check
in `pairs`, the forces' copy back in `model`), so timing them adds no synchronisation: the timer is always on
and costs a few perf_counter calls per step. LAMMPS' own work (integration, ghost exchange, re-neighbouring)
is outside the callback; with the timed run's loop time it is loop time minus the callback's total.
"""
from time import perf_counter

PHASES = (
    "read",       # tags and positions out of LAMMPS' arrays
    "pairs",      # positions to the model's device, the displacement check, candidate rebuilds
    "prepare",    # a rebuilt list's atoms and species into the model step
    "model",      # the model step: energy, forces and virial, forces back on the host
    "route",      # forces on other ranks' atoms to their owners (and periodic images folded on one rank)
    "hand_back",  # forces into LAMMPS, energy and virial summed over ranks
)


class PhaseTimer:
    def __init__(self):
        self.reset()

    def reset(self, skip_calls=0):
        """Start again; the next skip_calls calls are not counted (a run's set-up call, outside LAMMPS' loop
        time, which often rebuilds the pair list)."""
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.calls = 0
        self._skip = skip_calls
        self._mark = None

    def start(self):
        self._counting = self._skip == 0
        self._skip = max(0, self._skip - 1)
        self.calls += self._counting
        self._mark = perf_counter()

    def lap(self, phase):
        now = perf_counter()
        if self._counting:
            self.seconds[phase] += now - self._mark
        self._mark = now

    def ms_per_call(self) -> dict:
        return {phase: 1e3 * s / self.calls if self.calls else 0.0 for phase, s in self.seconds.items()}
