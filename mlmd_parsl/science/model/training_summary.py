"""training_summary.json as one frozen value: what a training did and measured. It is what `train` returns, what
the training task hands the export, the validation and the results, and what a resumed run reads back; the only
place that knows hippynn's metric names ("EpA-MAE", "ForceMAE") on the reading side."""
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ...atomic_files import write_text_atomically
from ...errors import ModelError
from ..choices import Trainer

FORMAT = 1  # the file's "format"; files written before 2026-12-06 have none: format 0


@dataclass(frozen=True)
class TrainingSummary:
    dataset: str  # the data file trained on
    dataset_label: str  # real | synthetic
    trainer: Trainer
    epochs: int
    epoch_time_s: float  # FOM 1: training wall time / epochs
    training_wall_s: float
    metrics: dict  # split (train, valid, test) -> hippynn's metric name -> value (meV/atom, meV/Å)
    spec: dict  # the TrainingSpec it ran
    threads: int = None  # torch's threads (None: a format-0 file from before they were recorded)
    oracle: str = None  # the EAM oracle that labelled synthetic data (None: real data, or not recorded)
    versions: dict = field(default_factory=dict)  # torch, hippynn
    reused: bool = False  # read back from a complete earlier training, not trained now (never written)

    def __post_init__(self):
        object.__setattr__(self, "trainer", Trainer(self.trainer))

    @property
    def test_epa_mae_mev(self) -> float:
        return self.metrics.get("test", {}).get("EpA-MAE", math.nan)

    @property
    def test_force_mae_mev_per_a(self) -> float:
        return self.metrics.get("test", {}).get("ForceMAE", math.nan)

    @property
    def device(self) -> str:
        return self.spec.get("device", "")

    def to_json(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("versions", "reused")}
        return {"format": FORMAT, **data, "trainer": str(self.trainer), **self.versions}

    def as_reused(self) -> "TrainingSummary":
        return replace(self, reused=True)

    @classmethod
    def from_json(cls, data: dict, source: str = "training_summary.json") -> "TrainingSummary":
        """Any version of the file: format 0 (no "format") may lack trainer (then hippynn's, the only trainer before
        the lean one), threads and oracle; a newer format than this code knows is refused, naming the file."""
        version = data.get("format", 0)
        if not isinstance(version, int) or not 0 <= version <= FORMAT:
            raise ModelError(f"{source}: format {version!r}; this version of mlmd_parsl reads formats 0 to {FORMAT}")
        names = {f.name for f in fields(cls)} - {"versions", "reused"}
        missing = sorted({"dataset", "dataset_label", "epochs", "epoch_time_s", "metrics"} - set(data))
        if missing:
            raise ModelError(f"{source}: not a training summary: no {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in names}
        values.setdefault("trainer", Trainer.HIPPYNN)
        values.setdefault("training_wall_s", data["epoch_time_s"] * data["epochs"])
        values.setdefault("spec", {})
        return cls(**values, versions={k: data[k] for k in ("torch", "hippynn") if k in data})


def write_training_summary(summary: TrainingSummary, out_dir) -> Path:
    return write_text_atomically(Path(out_dir) / "training_summary.json", json.dumps(summary.to_json(), indent=2))


def read_training_summary(path) -> TrainingSummary:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read a training summary ({exc})") from None
    return TrainingSummary.from_json(data, str(path))
