"""Exports saved by an older hippynn, as the seed's own model (hippynn 0.0.3's MLIAPInterface, saved on CUDA 0):
loaded into today's hippynn, and what was changed on the way named, so a user can see it and save the result.

What such a file needs (each found by loading the seed's TEST_AG_MODEL.pt; see docs/physics.md):
- two classes of hippynn's LAMMPS interface moved module: their pickled names are mapped to the new one;
- its interaction layers predate `cusp_reg`: hippynn's own compatibility code names 1e-30 as the value such layers
  used (hippynn only applies it through load_state_dict, which unpickling a whole module never calls);
- its interface predates `compute_dtype`: the dtype of its weights is the one it computed in;
- its device may not exist here (CUDA 0 on a CPU host): the tensors go where torch.load maps them, and so does
  the interface's model_device.
Anything else that does not load is the caller's ModelError.
"""
import pickle
import types
import warnings

MOVED_CLASSES = {  # (old module, class) -> new module
    ("hippynn.interfaces.lammps_interface.mliap_interface", "LocalAtomsEnergy"):
        "hippynn.interfaces.lammps_interface.graph_setup",
    ("hippynn.interfaces.lammps_interface.mliap_interface", "LocalAtomEnergyNode"):
        "hippynn.interfaces.lammps_interface.graph_setup",
}
DEPRECATED_CUSP_REG = 1e-30  # hippynn.layers.hiplayers.interactions: the value before cusp_reg was a parameter
INTERFACE_CLASS = ("hippynn.interfaces.lammps_interface.mliap_interface", "MLIAPInterface")


class _CompatUnpickler(pickle.Unpickler):
    """pickle.Unpickler that finds MOVED_CLASSES at their new home, and builds an MLIAPInterface whose saved
    model_device this host lacks on `fallback_device`, appending a line per change to `changes` (both set per
    load by compat_pickle_module). The device must be replaced before hippynn's MLIAPInterface.__setstate__ runs:
    it moves the graph there, and on a torch without CUDA that raises an error its own fallback does not catch."""

    changes = None
    fallback_device = "cpu"

    def find_class(self, module, name):
        new_module = MOVED_CLASSES.get((module, name))
        if new_module is not None:
            self.changes.append(f"class {name} found in {new_module}")
            module = new_module
        found = super().find_class(module, name)
        if (module, name) == INTERFACE_CLASS:
            return _device_checked(found, self)
        return found


def _device_checked(interface_class, unpickler):
    """A subclass of hippynn's MLIAPInterface whose __setstate__ first replaces an absent device; the object is
    given back its own class at once, so it saves and loads as hippynn's."""

    class DeviceChecked(interface_class):
        def __setstate__(self, state):
            import torch

            device = torch.device(state.get("model_device", "cpu"))
            if not _device_exists(device):
                state = {**state, "model_device": torch.device(unpickler.fallback_device)}
                unpickler.changes.append(f"model_device {device} (not on this host) -> {state['model_device']}")
            self.__class__ = interface_class
            interface_class.__setstate__(self, state)

    return DeviceChecked


def compat_pickle_module(changes: list, fallback_device):
    """A pickle module for torch.load(pickle_module=...) with _CompatUnpickler (a fresh class per load: two loads
    never share the list)."""
    unpickler = type("Unpickler", (_CompatUnpickler,), {"changes": changes, "fallback_device": fallback_device})
    return types.SimpleNamespace(Unpickler=unpickler, load=pickle.load, loads=pickle.loads,
                                 __name__="mlmd_parsl_compat_pickle")


def load_with_moved_classes(path, map_location):
    """torch.load of a full-module export, finding moved classes and replacing absent devices by map_location:
    (object, [a line per change])."""
    import torch

    changes = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*cusp_reg.*")  # upgrade_interface names what it sets
        loaded = torch.load(path, map_location=map_location, weights_only=False,
                            pickle_module=compat_pickle_module(changes, map_location))
    return loaded, changes


def _device_exists(device) -> bool:
    import torch

    if device.type == "cpu":
        return True
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return (device.index or 0) < torch.cuda.device_count()


def upgrade_interface(interface) -> list:
    """Fill in what an older MLIAPInterface lacks (module docstring), in place; returns a line per change."""
    changes = []
    for name, module in interface.graph.named_modules():
        if hasattr(module, "vecscales") and not hasattr(module, "cusp_reg"):  # InteractLayerVec and its subclasses
            module.cusp_reg = DEPRECATED_CUSP_REG
            handle = getattr(module, "handle", None)  # hippynn's load_state_dict hook for the same case: not needed now
            if handle is not None:
                handle.remove()
                del module.handle
            changes.append(f"{type(module).__name__} {name or '(root)'}: cusp_reg = {DEPRECATED_CUSP_REG:g} "
                           "(hippynn's value for layers saved before it was a parameter)")
    if not hasattr(interface, "compute_dtype"):
        interface.compute_dtype = weights_dtype(interface.graph)
        changes.append(f"compute_dtype = {interface.compute_dtype} (the dtype of its weights)")
    return changes


def weights_dtype(graph):
    import torch

    dtypes = {p.dtype for p in graph.parameters() if p.is_floating_point()}
    return dtypes.pop() if len(dtypes) == 1 else torch.float32
