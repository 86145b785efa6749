"""results.csv rows of MD cases, as the reporting tests need them (numbers as numbers, as rows hold them)."""


def md(task, atoms, ranks, katom, device="cpu", sweep="throughput", status="ok", division="seed", deviations=""):
    """A seed-division row with no deviations unless said: the kind of row set beside the seed's numbers."""
    return {"task": task, "kind": "md", "sweep": sweep, "status": status, "atoms": atoms, "ranks": ranks,
            "katom_step_s": katom, "device": device, "division": division, "deviations": deviations}
