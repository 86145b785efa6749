"""The driver's checks before any Parsl worker starts: the dataset (its MD5 too), an export adopted with --only md,
each division's MD engine (its back-end's check_before_run), a Slurm site's listen address. Each raises one
UserInputError (exit 2) naming what is wrong, so nothing is queued that cannot run."""
from pathlib import Path

from ..divisions import division_sites
from ..errors import ModelError, UserInputError
from .builder import Parts
from .md_backends import backend_for


def check_before_start(site, parts: Parts):
    if parts.training:
        check_dataset(site)
    else:
        check_adopted_export(parts)
    if parts.md:
        for division in division_sites(site):
            backend_for(division.md.engine).check_before_run(division)
    if site.provider.kind == "slurm":
        from .sites import listen_address

        listen_address(site.provider.interface)


def check_dataset(site):
    """The set a run trains on, checked (its MD5 too) by a real run and a dry run alike."""
    from ..science.model.dataset import expected_md5, validate_dataset

    if site.dataset.path:
        validate_dataset(site.dataset.path, expected_md5(site.dataset.path, site.dataset.md5))


def check_adopted_export(parts: Parts):
    """An export made elsewhere must load as hippynn's MLIAPInterface for Ag, and its box be a LAMMPS data file."""
    from ..md import check_box_file
    from ..science.model.export import conversion_note, load_exported_model_noting

    try:
        changes = load_exported_model_noting(parts.model)[1]
    except ModelError as exc:
        raise UserInputError(f"--model: {exc}") from None
    check_box_file(Path(parts.box))
    if changes:
        print(conversion_note(parts.model, changes) + "; the run's train/ folder holds the converted file", flush=True)
