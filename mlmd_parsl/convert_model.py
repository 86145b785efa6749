"""Save an export made by an older hippynn (the seed's TEST_AG_MODEL.pt) as today's hippynn saves it:

    python -m mlmd_parsl.convert_model --model TEST_AG_MODEL.pt --out converted_model.pt [--model-device cuda]

The converted file loads with a plain torch.load in today's hippynn and in `pair_style mliap unified`; every
command of this project also converts such a file on load, and says so in one line.
Exit code 0 when saved (also when nothing needed converting), 2 for bad input.
"""
import sys

from .arguments import ArgumentParser
from .errors import UserInputError


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl.convert_model", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the export to convert (a hippynn MLIAPInterface .pt)")
    parser.add_argument("--out", required=True, help="where to write the converted export")
    parser.add_argument("--model-device", default="cpu",
                        help="the device LAMMPS runs the model on (cpu, or cuda for KOKKOS on a GPU; default cpu)")
    return parser


def main(argv=None):
    from pathlib import Path

    from .science.model.export import load_exported_model_noting, save_converted

    args = build_parser().parse_args(argv)
    try:
        if args.model_device not in ("cpu", "cuda") and not args.model_device.startswith("cuda:"):
            raise UserInputError(f"--model-device {args.model_device!r}: allowed: cpu, cuda, cuda:N")
        if Path(args.out).resolve() == Path(args.model).resolve():
            raise UserInputError(f"--out {args.out}: is --model itself; write the converted export elsewhere")
        interface, changes = load_exported_model_noting(args.model)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    out = save_converted(interface, args.out, args.model_device)
    print(f"converted: {'; '.join(changes)}" if changes else f"{args.model}: nothing needed converting")
    print(f"saved: {out} (model_device {args.model_device})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
