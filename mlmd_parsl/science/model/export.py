"""Export a trained model for LAMMPS: hippynn_lammps_model.pt (MLIAPInterface), ag_box.data, and on
request lean_lammps_model.pt (the same weights behind our lean step, for `pair_style mliap unified`)."""
from dataclasses import dataclass
from pathlib import Path

from ..choices import MliapExport
from .artifacts import BOX_FILE, LEAN_MODEL_FILE, MLIAP_MODEL_FILES, MODEL_FILE  # noqa: F401 (names of the export)


@dataclass(frozen=True)
class Export:
    """One export of a trained model, as the tasks after it see it: its files, and what the validation needs of
    the training (the dataset's label, the EAM oracle that labelled a synthetic set)."""
    model: str  # hippynn_lammps_model.pt: the embedded engine and the validation load it
    box: str  # ag_box.data, the unit box
    lean_model: str = ""  # lean_lammps_model.pt, made when md.mliap_model is lean
    dataset_label: str = ""  # synthetic | real
    oracle: str = None
    reused: bool = False  # a complete earlier export of the same inputs

    def mliap_file(self, export: MliapExport) -> str:
        """The file `pair_style mliap unified` loads for md.mliap_model `export` (MLIAP_MODEL_FILES)."""
        path = Path(self.model).with_name(MLIAP_MODEL_FILES[MliapExport(export)])
        if str(path) not in (self.model, self.lean_model):
            raise ValueError(f"md.mliap_model {export}, but the export in {path.parent} made no {path.name}")
        return str(path)


def export_model(state_file, dataset_path, out_dir, model_device="cpu", lean=False) -> dict:
    """Rebuild the seed graph, load the trained weights and save the LAMMPS artifacts."""
    import ase.io

    from .dataset import first_frame

    paths = export_models(state_file, out_dir, model_device, lean)
    box_path = Path(out_dir) / BOX_FILE
    ase.io.write(str(box_path), first_frame(dataset_path), format="lammps-data", masses=True)
    return {**paths, "box": str(box_path)}


def export_models(state_file, out_dir, model_device="cpu", lean=False) -> dict:
    """hippynn_lammps_model.pt (and with `lean`, lean_lammps_model.pt) from network_state.pt, for a model on
    model_device: {"model": path[, "lean_model": path]}."""
    import torch
    from hippynn.interfaces.lammps_interface import MLIAPInterface

    from .network import build_seed_graph, load_graph_state

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = load_network_state(state_file)
    # A fresh graph: the training graph was rewired for cached pairs, which LAMMPS' graph cannot use.
    graph = build_seed_graph(saved["network_params"])
    load_graph_state(graph, saved["state"])
    interface = MLIAPInterface(graph.henergy, ["Ag"], model_device=torch.device(model_device))
    model_path = out_dir / MODEL_FILE
    torch.save(interface, model_path)
    paths = {"model": str(model_path)}
    if lean:
        from .lean_mliap import export_lean_model

        paths["lean_model"] = str(export_lean_model(interface, out_dir, model_device))
    return paths


def model_cutoff(interface) -> float:
    """The exported model's hard cutoff in Angstrom (hippynn stores half of it as ML-IAP's rcutfac)."""
    return 2.0 * float(interface.rcutfac)


def load_network_state(state_file) -> dict:
    """network_state.pt, the training's save: tensors and plain values only, so loaded with weights_only (a file
    that holds classes, which could run code as it loads, is refused with ModelError)."""
    import pickle

    import torch

    from ...errors import ModelError

    try:
        return torch.load(state_file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{state_file}: not a network state of tensors and plain values, refused without "
                         f"loading its code ({first})") from None


def mliap_export_cutoff(path) -> float:
    """The cutoff in Angstrom of an ML-IAP export, hippynn's (an older hippynn's too) or the lean one."""
    from .hippynn_compat import load_with_moved_classes

    return 2.0 * float(load_with_moved_classes(path, map_location="cpu")[0].rcutfac)


def load_exported_model(path, device="cpu"):
    """Load hippynn_lammps_model.pt (an older hippynn's too: see load_exported_model_noting); raise ModelError if
    it is not a hippynn MLIAPInterface for Ag."""
    return load_exported_model_noting(path, device)[0]


def load_exported_model_noting(path, device="cpu"):
    """(interface, changes): the export at `path`, with a line for each thing converted because an older hippynn
    saved it (hippynn_compat.py; [] for a file today's hippynn saved); ModelError for anything that does not fit."""
    import re

    from ...errors import ModelError
    from .hippynn_compat import load_with_moved_classes, upgrade_interface

    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    try:
        interface, changes = load_with_moved_classes(path, map_location=device)
    except Exception as exc:
        missing = re.match(r"Can't get attribute '([^']+)' on <module '([^']+)'", str(exc))
        if missing:
            import hippynn

            raise ModelError(f"model file {path} needs {missing.group(2)}.{missing.group(1)}, which hippynn "
                             f"{hippynn.__version__} does not have: saved by another hippynn version, with a class "
                             "this project does not know how to map") from None
        raise ModelError(f"model file {path} cannot be loaded by torch: {exc}") from None
    if not (hasattr(interface, "graph") and hasattr(interface, "species_set") and hasattr(interface, "rcutfac")):
        raise ModelError(
            f"model file {path} is a {type(interface).__name__}, not a hippynn MLIAPInterface export"
        )
    if list(getattr(interface, "element_types", [])) != ["Ag"]:
        raise ModelError(
            f"model file {path} is for elements {getattr(interface, 'element_types', None)}; "
            "this benchmark needs ['Ag']"
        )
    return interface, changes + upgrade_interface(interface)


def conversion_note(path, changes) -> str:
    """One line for a model converted on load ('' when nothing was), naming how to save the converted file."""
    if not changes:
        return ""
    return (f"note: {path} was saved by an older hippynn and was converted on load ({'; '.join(changes)}); "
            f"to save the converted file: python -m mlmd_parsl.convert_model --model {path} --out converted_model.pt")


def save_converted(interface, out_path, model_device="cpu"):
    """Save a (converted) interface so today's hippynn and `pair_style mliap unified` load it with a plain
    torch.load: tensors on the CPU (hippynn's pickling moves them), model_device as given."""
    import torch

    interface.model_device = torch.device(model_device)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(interface, out_path)
    return out_path
