"""training_summary.json read back as a TrainingSummary: today's files round-trip, older ones are read, newer and
broken ones are refused with the file named."""
import json

import pytest

from mlmd_parsl.errors import ModelError
from mlmd_parsl.science.choices import Trainer
from mlmd_parsl.science.model.training_summary import (FORMAT, TrainingSummary, read_training_summary,
                                                       write_training_summary)

TODAY = TrainingSummary(dataset="/d/Ag.xyz", dataset_label="synthetic", trainer=Trainer.LEAN, epochs=800,
                        epoch_time_s=0.61, training_wall_s=488.7, threads=2, oracle="ag_u3_short",
                        metrics={"test": {"EpA-MAE": 2.47, "ForceMAE": 60.9}}, spec={"device": "cpu"},
                        versions={"torch": "2.13.0+cpu", "hippynn": "0.1.3"})
# a file of 2026-11 (format 0): no format, no trainer (hippynn's was the only one), no threads, no oracle
FORMAT_0 = {"dataset": "/d/Ag.xyz", "dataset_label": "synthetic", "epochs": 40, "training_wall_s": 20.0,
            "epoch_time_s": 0.5, "metrics": {"test": {"EpA-MAE": 3.0, "ForceMAE": 70.0}}, "spec": {"device": "cpu"},
            "torch": "2.9.0", "hippynn": "0.1.2"}


def test_todays_file_round_trips_with_its_format_and_versions(tmp_path):
    path = write_training_summary(TODAY, tmp_path)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["trainer"] == "lean" and data["torch"] == "2.13.0+cpu"
    assert "reused" not in data and "versions" not in data
    back = read_training_summary(path)
    assert back == TODAY and back.test_epa_mae_mev == 2.47 and back.test_force_mae_mev_per_a == 60.9
    assert back.device == "cpu" and read_training_summary(path).as_reused().reused


def test_a_format_0_file_reads_with_hippynns_trainer_and_nothing_invented(tmp_path):
    summary = TrainingSummary.from_json(FORMAT_0)
    assert summary.trainer is Trainer.HIPPYNN and summary.threads is None and summary.oracle is None
    assert summary.epochs == 40 and summary.versions == {"torch": "2.9.0", "hippynn": "0.1.2"}
    assert TrainingSummary.from_json({**FORMAT_0, "metrics": {"test": {}}}).test_epa_mae_mev != 0  # NaN, not 0


@pytest.mark.parametrize("data, message", [
    ({**FORMAT_0, "format": FORMAT + 1}, f"format {FORMAT + 1}; this version of mlmd_parsl reads formats 0 to"),
    ({k: v for k, v in FORMAT_0.items() if k != "metrics"}, "not a training summary: no metrics"),
])
def test_newer_or_broken_files_are_refused_naming_the_file(tmp_path, data, message):
    path = tmp_path / "training_summary.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=str(path).replace(".", r"\.") + ": " + message.replace("(", r"\(")):
        read_training_summary(path)
    path.write_text("{not json")
    with pytest.raises(ModelError, match="cannot read a training summary"):
        read_training_summary(path)
