"""The files an export writes, by name (a module of its own so the exporters and the lean ML-IAP model can both
name them without importing each other)."""
from ..choices import MliapExport

MODEL_FILE = "hippynn_lammps_model.pt"
LEAN_MODEL_FILE = "lean_lammps_model.pt"
BOX_FILE = "ag_box.data"

MLIAP_MODEL_FILES = {MliapExport.HIPPYNN: MODEL_FILE, MliapExport.LEAN: LEAN_MODEL_FILE}  # md.mliap_model -> file
