"""What the checks add up to: the flags every results row carries, the verdict physical/unphysical, and its one
sentence, which every renderer prints."""
from ..choices import Flag, Verdict
from .checks import CHECKS, PHYSICS_CHECKS
from .protocol_md import MIN_APPROACH_A


def validity_flags(report: dict) -> dict:
    """The flags each results row carries: 'pass'/'fail' per check ('' where it did not run), and its numbers."""
    flags = {}
    for check in CHECKS:
        flags[check.flag] = check.flag_of(report)
        for column, text in check.numbers.items():
            flags[column] = text(report[check.section]) if check.section in report else ""
    return flags


def physics_verdict(flags: dict) -> str:
    """'unphysical' when the model failed a check that says its MD is not physics (atoms pass the repulsive
    wall, the oracle's energy or structure is not reproduced, forces/ranks/NVE broken); 'physical' when every
    check that ran passed; '' when none ran. The accuracy gate alone does not decide it: a model short of the
    seed's accuracy can still run physical MD."""
    checks = [flags.get(k, "") for k in PHYSICS_CHECKS]
    if Flag.FAIL in checks:
        return Verdict.UNPHYSICAL
    return Verdict.PHYSICAL if any(checks) else ""


def what_the_model_does(row: dict) -> str:
    """The failed wall and MD checks of a model's flags (a results row) in words, what it does to atoms at 1111 K:
    sentences each after a space, to append to a verdict line ('' when neither check failed)."""
    words = ""
    if row.get("md_5fs_check") == Flag.FAIL and row.get("fused_at_ps"):
        words += (f" In MD at 1111 K and the protocol's 5 fs step two atoms came closer than {MIN_APPROACH_A:g} Å "
                  f"{row['fused_at_ps']} ps into the run (closest approach {row.get('closest_approach_a')} Å): the "
                  "model lets atoms fuse, so MD-HO runs with it (185 ps at 1111 K in the ats5 profile) time a "
                  "system with fused atoms.")
    if row.get("wall_check") == Flag.FAIL and row.get("wall_barrier_ev"):
        words += (f" Its repulsive wall between two atoms is {row['wall_barrier_ev']} eV high; a pair at 1111 K "
                  "that gets over it fuses.")
    return words


def verdict_sentence(flags: dict) -> str:
    """The physics verdict of a model's flags (a results row, or validation's flags) in one sentence: which checks
    decided it, and for an unphysical model what it does to atoms."""
    verdict = physics_verdict(flags)
    if verdict == Verdict.UNPHYSICAL:
        failed = [k for k in PHYSICS_CHECKS if flags.get(k) == Flag.FAIL]
        return (f"Physics: UNPHYSICAL: the model failed {', '.join(failed)}: every MD throughput measured with it "
                "is from a broken simulation, not a benchmark result." + what_the_model_does(flags))
    if verdict == Verdict.PHYSICAL:
        passed = [k for k in PHYSICS_CHECKS if flags.get(k) == Flag.PASS]
        not_run = [k for k in PHYSICS_CHECKS if not flags.get(k)]
        numbers = ([f"wall {flags['wall_barrier_ev']} eV"] if flags.get("wall_barrier_ev") else []) + (
            [f"closest approach {flags['closest_approach_a']} Å"] if flags.get("closest_approach_a") else [])
        return (f"Physics: physical: the model passed every physics check that ran ({', '.join(passed)}"
                + (f"; not run: {', '.join(not_run)}" if not_run else "") + ")"
                + (f": {', '.join(numbers)}" if numbers else "") + ".")
    return "Physics: not checked (validation disabled or failed): the throughputs are unverified."
