"""Exports saved by an older hippynn (as the seed's TEST_AG_MODEL.pt was): made here the old way from the untrained
fixture (classes at their old module, no cusp_reg, no compute_dtype, float64 weights, saved for device "cuda"),
they load with each change named, evaluate as the original does, save as today's hippynn's, and the CLIs take
them; what cannot be mapped is one clear error."""
import pickle
import zipfile

import pytest
import torch

from mlmd_parsl.errors import ModelError
from mlmd_parsl.science.model.export import (conversion_note, load_exported_model, load_exported_model_noting,
                                             save_converted)
from mlmd_parsl.science.model.hippynn_compat import DEPRECATED_CUSP_REG, MOVED_CLASSES
from mlmd_parsl.science.model.lean_hipnn import LeanHipnn, UnsupportedNetwork
from tests.conftest import FIXTURES, run_cli
from tests.unit.model.test_lean_hipnn import periodic_pairs

OLD_HOMES = {(new, name): old for (old, name), new in MOVED_CLASSES.items()}


class _OldHomesPickler(pickle._Pickler):
    """Writes the moved classes under the module an older hippynn had them in (what such a file holds)."""

    def save_global(self, obj, name=None):
        key = (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None))
        if key in OLD_HOMES:
            self.write(pickle.GLOBAL + f"{OLD_HOMES[key]}\n{key[1]}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


class _OldHomesPickleModule:
    Pickler = _OldHomesPickler


def write_old_export(model_file, out):
    """`model_file` as an older hippynn would have saved it (float64, device "cuda")."""
    interface = load_exported_model(model_file)
    interface.graph.to(torch.float64)
    for module in interface.graph.modules():
        if hasattr(module, "cusp_reg"):
            module.cusp_reg = DEPRECATED_CUSP_REG  # the value the old layer computed with, then forgotten
            del module.cusp_reg
    del interface.compute_dtype
    interface.model_device = "cuda"
    torch.save(interface, out, pickle_module=_OldHomesPickleModule, pickle_protocol=2)
    return out


@pytest.fixture(scope="module")
def old_export(untrained_model, tmp_path_factory):
    return write_old_export(untrained_model["model"], tmp_path_factory.mktemp("old") / "old_model.pt")


def test_the_old_export_really_is_old(old_export):
    """The fixture must fail as the seed's file does with a plain torch.load, or the tests below prove nothing."""
    with zipfile.ZipFile(old_export) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"mliap_interface\nLocalAtomsEnergy" in pickled and b"cusp_reg" not in pickled
    with pytest.raises(AttributeError, match="LocalAtomsEnergy"):
        torch.load(old_export, map_location="cpu", weights_only=False)


def test_an_old_export_loads_with_every_change_named(old_export):
    interface, changes = load_exported_model_noting(old_export)
    text = "\n".join(changes)
    for name in ("LocalAtomsEnergy", "LocalAtomEnergyNode", "cusp_reg = 1e-30", "compute_dtype = torch.float64"):
        assert name in text
    if not torch.cuda.is_available():
        assert "model_device cuda (not on this host) -> cpu" in text
        assert interface.model_device == torch.device("cpu")
    assert interface.compute_dtype == torch.float64
    note = conversion_note(old_export, changes)
    assert note.startswith(f"note: {old_export} was saved by an older hippynn") and "convert_model" in note
    assert "\n" not in note


def test_an_export_of_todays_hippynn_needs_no_conversion(untrained_model):
    assert load_exported_model_noting(untrained_model["model"])[1] == []
    assert conversion_note(untrained_model["model"], []) == ""


def test_the_converted_export_evaluates_as_the_original(untrained_model, old_export):
    """Same weights, same cusp_reg: hippynn's graph and the lean network give the original's energy and forces."""
    original = load_exported_model(untrained_model["model"]).graph.to(torch.float64)
    for module in original.modules():
        if hasattr(module, "cusp_reg"):
            module.cusp_reg = DEPRECATED_CUSP_REG
    converted = load_exported_model(old_export).graph
    n, i, j, pc = periodic_pairs(4.0)
    z = torch.full((1, n), 47)
    _, e_ref, f_ref = original(z, i, j, pc.double(), torch.as_tensor(n))
    _, e_old, f_old = converted(z, i, j, pc.double(), torch.as_tensor(n))
    assert float(e_old) == pytest.approx(float(e_ref), rel=1e-12)
    assert float((f_old - f_ref).abs().max()) <= 1e-10 * float(f_ref.abs().max())
    lean_energy, lean_forces = LeanHipnn.from_graph(converted).energy_and_pair_forces(
        z[0], i, j, pc.double(), torch.ones(n, dtype=torch.float64))
    assert float(lean_energy) == pytest.approx(float(e_ref), rel=1e-12)
    assert float((lean_forces - f_ref.detach()).abs().max()) <= 1e-10 * float(f_ref.abs().max())


def test_the_saved_conversion_loads_with_a_plain_torch_load(old_export, tmp_path):
    interface, _ = load_exported_model_noting(old_export)
    saved = save_converted(interface, tmp_path / "converted.pt")
    plain = torch.load(saved, map_location="cpu", weights_only=False)  # what pair_style mliap unified does
    assert plain.compute_dtype == torch.float64 and plain.model_device == torch.device("cpu")
    assert load_exported_model_noting(saved)[1] == []


def test_the_lean_network_refuses_a_layer_it_cannot_read(old_export):
    """An interaction layer without cusp_reg (the unconverted old file) is UnsupportedNetwork, which makes the
    engine keep hippynn's graph, not an AttributeError."""
    graph = load_exported_model(old_export).graph
    for module in graph.modules():
        if hasattr(module, "cusp_reg"):
            del module.cusp_reg
    with pytest.raises(UnsupportedNetwork, match="cusp_reg"):
        LeanHipnn.from_graph(graph)


def test_a_class_that_cannot_be_mapped_is_one_clear_error(old_export, tmp_path):
    with zipfile.ZipFile(old_export) as source, zipfile.ZipFile(tmp_path / "bad.pt", "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("data.pkl"):
                data = data.replace(b"LocalAtomsEnergy\n", b"LocalAtomsEnergyX\n")
            target.writestr(item, data)
    with pytest.raises(ModelError, match=r"needs hippynn\.interfaces\.lammps_interface\.mliap_interface\."
                                         r"LocalAtomsEnergyX, which hippynn .* does not have"):
        load_exported_model(tmp_path / "bad.pt")


def test_the_commands_take_an_old_export(old_export, tmp_path):
    """md evaluates it (with the note), convert_model saves it; a bad --out is exit 2."""
    result = run_cli(["mlmd_parsl.md", "--model", str(old_export), "--box", str(FIXTURES / "ag_box.data"),
                      "--steps", "0", "--log", str(tmp_path / "md" / "log.lammps")], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "was saved by an older hippynn and was converted on load" in result.stdout
    result = run_cli(["mlmd_parsl.convert_model", "--model", str(old_export), "--out",
                      str(tmp_path / "new.pt")], timeout=300)
    assert result.returncode == 0 and "saved:" in result.stdout, result.stderr[-2000:]
    assert load_exported_model_noting(tmp_path / "new.pt")[1] == []
    result = run_cli(["mlmd_parsl.convert_model", "--model", str(old_export), "--out", str(old_export)],
                     timeout=300)
    assert result.returncode == 2 and "is --model itself" in result.stderr and "Traceback" not in result.stderr


def test_the_campaign_adopts_an_old_export_as_its_conversion(old_export, tmp_path):
    """--only md --model OLD: the run's train/ folder holds the converted file (the site's LAMMPS loads it with a
    plain torch.load, on the model device the site names) and the lean export made from it."""
    from mlmd_parsl.orchestration.tasks import adopt_export

    exported = adopt_export(str(old_export), str(FIXTURES / "ag_box.data"), str(tmp_path / "train"), "cpu", lean=True)
    plain = torch.load(exported.model, map_location="cpu", weights_only=False)
    assert plain.compute_dtype == torch.float64 and plain.model_device == torch.device("cpu")
    assert load_exported_model_noting(exported.model)[1] == []
    assert torch.load(exported.lean_model, map_location="cpu", weights_only=False).dtype == torch.float64
    assert (tmp_path / "train" / "ag_box.data").read_bytes() == (FIXTURES / "ag_box.data").read_bytes()


def test_validate_checks_the_conversion_of_an_old_export_and_names_it(old_export, untrained_model, tmp_path, capsys):
    from mlmd_parsl.validate import model_as_today

    checked = model_as_today(str(old_export), tmp_path)
    assert checked == str(tmp_path / "old_model.converted.pt")
    assert load_exported_model_noting(checked)[1] == []
    assert "was saved by an older hippynn" in capsys.readouterr().out
    assert model_as_today(untrained_model["model"], tmp_path) == untrained_model["model"]
