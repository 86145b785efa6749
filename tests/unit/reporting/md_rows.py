"""results.csv rows of MD cases, as the reporting tests need them (numbers as numbers, as rows hold them)."""


def md(task, atoms, ranks, katom, device="cpu", sweep="throughput", status="ok"):
    return {"task": task, "kind": "md", "sweep": sweep, "status": status, "atoms": atoms, "ranks": ranks,
            "katom_step_s": katom, "device": device}
