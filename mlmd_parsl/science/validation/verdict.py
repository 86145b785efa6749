"""What the checks add up to: the flags every results row carries, and the verdict physical/unphysical."""
from .checks import CHECKS, PHYSICS_CHECKS


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
    if "fail" in checks:
        return "unphysical"
    return "physical" if any(checks) else ""
