"""The KOKKOS command-line options of the site engine, chosen from what the site's `lmp` accepts.

The seed launches LAMMPS with `-k on g N -sf kk -pk kokkos neigh full newton on`. LAMMPS releases since
2024 refuse that pair of options at start-up ("Must use 'newton off' with KOKKOS package option 'neigh
full'"), while ML-IAP needs `newton pair on`. `newton on neigh half` runs there: `pair_style mliap/kk`
asks for the full neighbour list it needs by itself, so the pair style sees the same neighbours either way
(the `neigh` option only sets the list of styles that ask for a half list, and this deck has none).

Which line a site's LAMMPS takes is found by doing, never guessed from its version: the preflight runs the
seed's line first and, only when LAMMPS refuses it with that error, the current one
(`choose_kokkos_package`). What it kept, and why, goes into the run's manifest and summary.
"""
from dataclasses import dataclass

SEED_PACKAGE = ("neigh", "full", "newton", "on")  # the seed's Chicoma line
CURRENT_PACKAGE = ("newton", "on", "neigh", "half")  # what LAMMPS since 2024 accepts with ML-IAP
NEWTON_REFUSAL = "Must use 'newton off' with KOKKOS package option 'neigh full'"
AUTO = "auto"

# `package kokkos` keywords (LAMMPS' package command); each takes one value
PACKAGE_KEYWORDS = ("neigh", "neigh/qeq", "neigh/thread", "neigh/transpose", "newton", "binsize", "comm",
                    "comm/exchange", "comm/forward", "comm/pair/forward", "comm/fix/forward", "comm/reverse",
                    "comm/pair/reverse", "sort", "atom/map", "gpu/aware", "pair/only")


def kokkos_gpu_args(gpus: int, package) -> list:
    """`-k on g N -sf kk -pk kokkos <package>`: N = the GPUs of a node its ranks use."""
    return ["-k", "on", "g", str(int(gpus)), "-sf", "kk", "-pk", "kokkos", *package]


def package_text(package) -> str:
    return " ".join(package)


def parse_package(text: str) -> tuple:
    """md.kokkos_package: 'auto', or explicit `-pk kokkos` options ('newton on neigh half comm device').
    Raises ValueError naming what is wrong."""
    if text.strip() == AUTO:
        return ()
    tokens = tuple(text.split())
    if not tokens or len(tokens) % 2:
        raise ValueError(f"{text!r}: expected 'auto' or keyword/value pairs such as '{package_text(CURRENT_PACKAGE)}'")
    options = dict(zip(tokens[::2], tokens[1::2]))
    unknown = [k for k in options if k not in PACKAGE_KEYWORDS]
    if unknown:
        raise ValueError(f"{text!r}: unknown package kokkos keyword {unknown[0]!r}; "
                         f"allowed: {', '.join(PACKAGE_KEYWORDS)}")
    if options.get("newton") != "on":
        raise ValueError(f"{text!r}: pair_style mliap needs 'newton on'")
    return tokens


def planned_package(configured: str) -> tuple:
    """The options MD cases are written with before any preflight (a dry run, a library user's futures):
    the explicit ones, or for 'auto' the line current LAMMPS accepts."""
    return parse_package(configured) or CURRENT_PACKAGE


def preflight_candidates(configured: str) -> list:
    """The lines the preflight tries, in order: explicit options alone, or for 'auto' the seed's, then the
    current one (tried only if LAMMPS refuses the seed's with NEWTON_REFUSAL)."""
    explicit = parse_package(configured)
    return [explicit] if explicit else [SEED_PACKAGE, CURRENT_PACKAGE]


@dataclass(frozen=True)
class KokkosChoice:
    """What the preflight kept (`package`), the lines refused before it, or why the last try failed."""
    package: tuple = ()
    refused: tuple = ()  # ((package, reason), ...)
    failure: str = ""  # the reason of the last line tried, when none ran

    def describe(self) -> str:
        if self.failure:
            return f"no Kokkos line ran: {self.failure}"
        text = f"-pk kokkos {package_text(self.package)}"
        if self.package == SEED_PACKAGE:
            return text + " (the seed's line)"
        for package, _ in self.refused:
            if package == SEED_PACKAGE:
                return text + f" (this LAMMPS refuses the seed's '{package_text(SEED_PACKAGE)}': {NEWTON_REFUSAL})"
        return text + " (md.kokkos_package)"

    def as_record(self) -> dict:
        return {"package": package_text(self.package), "refused": [{"package": package_text(p), "reason": r}
                                                                 for p, r in self.refused],
                "failure": self.failure, "summary": self.describe()}


def choose_kokkos_package(probe, configured: str = AUTO) -> KokkosChoice:
    """probe(package) runs the site engine once with those options and returns None if it ran, else the
    quoted reason. 'auto' tries the seed's line, then, only if LAMMPS refused it for newton/neigh, the
    current one; explicit options are tried alone."""
    refused = []
    for package in preflight_candidates(configured):
        reason = probe(package)
        if reason is None:
            return KokkosChoice(package, tuple(refused))
        refused.append((package, reason))
        if NEWTON_REFUSAL not in reason:
            break  # something else stops this LAMMPS: another line would fail the same way
    return KokkosChoice(refused=tuple(refused[:-1]), failure=refused[-1][1])
