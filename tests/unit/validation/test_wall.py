"""The repulsive wall of a trained model, beside EAM's."""
from mlmd_parsl.science.validation.verdict import validity_flags
from mlmd_parsl.science.validation.wall import WALL_DISTANCES_A, check_repulsive_wall


def test_repulsive_wall_follows_eam_and_names_the_barrier(trained_model, tmp_path):
    result = check_repulsive_wall(trained_model["model"], trained_model["box"], "ag_u3_short", tmp_path)
    eam = dict(zip(WALL_DISTANCES_A, result["eam_rise_ev"]))
    assert eam[2.8] == 0 and 2.0 < eam[2.1] < 3.0 and eam[1.0] > 30  # EAM's wall keeps rising
    assert all(a < b for a, b in zip(result["eam_rise_ev"], result["eam_rise_ev"][1:]))
    assert result["oracle"] == "ag_u3_short" and (tmp_path / "Ag_u3_short.eam").is_file()
    assert result["barrier_ev"] == max(result["model_rise_ev"]) and result["model_rise_ev"][0] == 0
    assert result["barrier_at_a"] in WALL_DISTANCES_A
    assert result["ok"] == (result["barrier_ev"] >= 2.0)
    assert validity_flags({"wall": result})["wall_check"] == ("pass" if result["ok"] else "fail")
