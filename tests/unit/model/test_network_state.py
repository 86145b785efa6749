"""network_state.pt holds tensors and plain values: it is loaded without running code, and one that holds more is
refused with one line."""
import pytest
import torch

from mlmd_parsl.errors import ModelError
from mlmd_parsl.science.model.export import load_network_state


class Payload:
    def __reduce__(self):
        return (print, ("a pickle ran code as it loaded",))


def test_a_network_state_loads_and_one_holding_code_is_refused_unrun(tmp_path, capsys):
    plain = tmp_path / "network_state.pt"
    torch.save({"network_params": {"n_atom_layers": 3, "possible_species": [0, 47]},
                "state": {"network": {"w": torch.ones(2)}}}, plain)
    assert load_network_state(plain)["network_params"]["possible_species"] == [0, 47]
    rigged = tmp_path / "rigged.pt"
    torch.save({"network_params": Payload()}, rigged)
    with pytest.raises(ModelError, match=f"{rigged}: not a network state of tensors and plain values"):
        load_network_state(rigged)
    assert "ran code" not in capsys.readouterr().out
