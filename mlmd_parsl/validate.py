"""Validate any exported model with the embedded engine: python -m mlmd_parsl.validate --model M --box B

Writes validation.json and validation.md (forces vs hippynn's own periodic graph on several boxes, energy
and pressure, rank invariance, NVE drift, the repulsive wall, 10 ps of MD at the protocol's 5 fs step, with
--oracle-eam the same wall and MD side by side with the EAM oracle, and with --site-lmp the site's
`pair_style mliap unified` against the embedded engine).
Exit code 0 when every check passes, 1 when one fails, 2 for bad input.
"""
import json
import sys
from pathlib import Path

from .arguments import ArgumentParser
from .errors import UserInputError
from .science.lammps.eam_oracle import DEFAULT_ORACLE, ORACLES
from .science.validation.spec import ValidationSpec


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hippynn_lammps_model.pt")
    parser.add_argument("--box", required=True, help="LAMMPS data file of the unit box (ag_box.data)")
    parser.add_argument("--out", default="validation", help="output folder (default: ./validation)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="rank counts to compare (default 1 2)")
    parser.add_argument("--trajectory-steps", type=int, default=100)
    parser.add_argument("--nve-steps", type=int, default=1000, help="NVE steps at 1 fs (1000 = 1 ps)")
    parser.add_argument("--md-5fs-steps", type=int, default=2000,
                        help="timed steps of the 1111 K run at 5 fs (2000 = 10 ps; a fifth as many before it)")
    parser.add_argument("--md-5fs-replicate", type=int, nargs=3, default=list(ValidationSpec.md_5fs_replicate),
                        metavar=("X", "Y", "Z"), help="the 5 fs run's box: the unit box replicated X Y Z times "
                                                      "(default 2 2 8: 2,272 atoms; see docs/physics.md)")
    parser.add_argument("--oracle-eam", nargs="?", const=DEFAULT_ORACLE, default=None, choices=ORACLES,
                        help="also compare with the EAM oracle that labelled the synthetic data "
                             f"(default {DEFAULT_ORACLE})")
    parser.add_argument("--training-summary", help="training_summary.json: adds the seed's accuracy gate")
    parser.add_argument("--site-lmp", help="a LAMMPS with ML-IAP's Python coupling: adds the cross-engine check "
                                           "(its pair_style mliap unified against the embedded engine)")
    parser.add_argument("--site-model",
                        help="the export that LAMMPS loads (default --model; e.g. lean_lammps_model.pt)")
    parser.add_argument("--kokkos", action="store_true",
                        help="run --site-lmp on a GPU through KOKKOS, with the options it accepts "
                             "(see --kokkos-package)")
    parser.add_argument("--kokkos-package", default="auto",
                        help="'-pk kokkos' options, or auto (default): the seed's 'neigh full newton on' if --site-lmp "
                             "accepts it, else 'newton on neigh half' (found by running it, as the campaign does)")
    parser.add_argument("--cross-device", default="cpu",
                        help="device of the embedded engine in the cross-engine check (default cpu; e.g. cuda)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .science.choices import Flag, MDEngine
    from .science.model.training_summary import read_training_summary
    from .science.validation.cross_engine import SiteEngine
    from .science.validation.suite import validate_model

    try:
        args.model = model_as_today(args.model, Path(args.out))
        if not Path(args.box).is_file():
            raise UserInputError(f"box file not found: {args.box}")
        spec = validation_spec(args)
        training = read_training_summary(args.training_summary) if args.training_summary else None
        site_engine = None
        if args.site_lmp:
            from .science.lammps.build import inspect_build, resolve_lmp

            lmp = inspect_build(MDEngine.MLIAP, resolve_lmp(args.site_lmp, "--site-lmp"), args.kokkos).executable
            site_model = args.site_model or args.model
            if not Path(site_model).is_file():
                raise UserInputError(f"--site-model {site_model}: no such file")
            site_engine = SiteEngine(lmp, site_model, args.cross_device,
                                     kokkos_package(args, lmp, site_model) if args.kokkos else ())
        elif args.site_model or args.kokkos:
            raise UserInputError("--site-model and --kokkos need --site-lmp")
    except (UserInputError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = validate_model(args.model, args.box, args.out, spec, oracle=args.oracle_eam, training=training,
                            site_engine=site_engine)
    print((Path(args.out) / "validation.md").read_text())
    failed = [k for k, v in report["flags"].items() if v == Flag.FAIL]
    return 1 if failed else 0


def model_as_today(model: str, out: Path) -> str:
    """The model file every check loads: `model`, or where an older hippynn saved it, its conversion in
    out/<name>.converted.pt (named in one line), so the rank checks' processes and a site's LAMMPS load it too."""
    from .science.model.export import conversion_note, load_exported_model_noting, save_converted

    interface, changes = load_exported_model_noting(model)
    if not changes:
        return model
    print(conversion_note(model, changes), flush=True)
    converted = save_converted(interface, out / f"{Path(model).stem}.converted.pt")
    print(f"the checks load its conversion: {converted}", flush=True)
    return str(converted)


# ValidationSpec's keys as this command's flags, for its errors
SPEC_FLAGS = {"rank_counts": "--ranks", "trajectory_steps": "--trajectory-steps", "nve_steps": "--nve-steps",
              "oracle_steps": "--md-5fs-steps", "oracle_equilibration_steps": "--md-5fs-steps",
              "md_5fs_replicate": "--md-5fs-replicate"}


def validation_spec(args):
    """The spec of the flags, checked by ValidationSpec itself; its complaint names the flag."""
    from .science.spec_checks import InvalidSetting

    try:
        return ValidationSpec(rank_counts=tuple(args.ranks), trajectory_steps=args.trajectory_steps,
                              nve_steps=args.nve_steps, oracle_steps=args.md_5fs_steps,
                              oracle_equilibration_steps=max(1, args.md_5fs_steps // 5),
                              md_5fs_replicate=tuple(args.md_5fs_replicate))
    except InvalidSetting as exc:
        raise UserInputError(f"{SPEC_FLAGS.get(exc.key, exc.key)} {exc.message}") from None


def kokkos_package(args, lmp, site_model) -> tuple:
    """The `-pk kokkos` options --site-lmp accepts, found by running it (UserInputError naming why none ran)."""
    from .science.lammps.kokkos_options import parse_package
    from .science.lammps.site_lammps import choose_site_kokkos

    try:
        parse_package(args.kokkos_package)
    except ValueError as exc:
        raise UserInputError(f"--kokkos-package {exc}") from None
    choice = choose_site_kokkos(lmp, site_model, args.box, Path(args.out) / "kokkos_probe",
                                args.kokkos_package)
    if choice.failure:
        raise UserInputError(f"--site-lmp {lmp} cannot run the model through KOKKOS: {choice.failure}")
    print(f"site engine: {choice.describe()}", flush=True)
    return choice.package


if __name__ == "__main__":
    sys.exit(main())
