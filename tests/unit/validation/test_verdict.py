"""The flags and the physical/unphysical verdict every results row carries."""
from mlmd_parsl.science.validation.verdict import physics_verdict


def test_a_failed_physics_check_makes_the_model_unphysical():
    passing = {k: "pass" for k in ("force_check", "pressure_check", "rank_invariance", "nve_check", "wall_check",
                                   "md_5fs_check", "oracle_check")}
    assert physics_verdict({**passing, "accuracy_gate": "fail"}) == "physical"  # accuracy alone is not physics
    for check in passing:
        assert physics_verdict({**passing, check: "fail"}) == "unphysical", check
    assert physics_verdict({"accuracy_gate": "pass"}) == ""
