"""results.csv rows of MD cases, as the reporting tests need them."""


def md(task, atoms, ranks, katom, device="cpu", sweep="throughput", status="ok"):
    return {"task": task, "kind": "md", "sweep": sweep, "status": status, "atoms": str(atoms), "ranks": str(ranks),
            "katom_step_s": str(katom), "device": device}
