"""The MD back-ends, one module per md.engine choice behind base.MDBackend; a new engine is its module, its word
in science/choices.py and one line here (docs/extending.md)."""
from ...science.choices import MDEngine
from .base import MDBackend
from .embedded import EmbeddedBackend
from .site_lammps import SiteLammpsBackend

BACKENDS = {MDEngine.EMBEDDED: EmbeddedBackend(), MDEngine.MLIAP: SiteLammpsBackend()}


def backend_for(engine) -> MDBackend:
    return BACKENDS[MDEngine(engine)]
