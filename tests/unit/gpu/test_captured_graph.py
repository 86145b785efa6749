"""The helper every captured step shares: buffer sizes with headroom, padding, and a graph captured again after
every growth. On a CPU a "capture" is simulated by a graph whose replay runs the body, so the capture-on-grow
logic of the cell list and the captured steps is checked here; tests/gpu captures for real."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mlmd_parsl.science.embedded.cell_list import CellListPairs
from mlmd_parsl.science.gpu import captured_graph
from mlmd_parsl.science.gpu.captured_graph import (FAR_AWAY, CapturedGraph, far_away_vectors, fill_padded,
                                                   with_headroom)
from tests.unit.embedded.test_cell_list import CUTOFF, REACH, atoms, check


def test_headroom_and_padding():
    assert with_headroom(100) == 126 and with_headroom(100, spare=0) == 125 and with_headroom(0) == 1
    far = far_away_vectors(4, "cpu")
    assert far.dtype == torch.float64 and far[:, 0].eq(FAR_AWAY).all() and far[:, 1:].eq(0).all()
    buffer = torch.full((5,), 7, dtype=torch.int64)
    fill_padded(buffer, 2, torch.tensor([3, 4]), 9)
    assert buffer.tolist() == [3, 4, 9, 9, 9]
    fill_padded(buffer, 3, None, torch.tensor(1))  # a 0-d tensor pads like a number; None keeps what is there
    assert buffer.tolist() == [3, 4, 9, 1, 1]
    vectors = torch.ones((4, 3), dtype=torch.float64)
    fill_padded(vectors, 1, 0.0, far)
    assert vectors[0].eq(0).all() and torch.equal(vectors[1:], far[1:])


@pytest.fixture
def simulated_capture(monkeypatch):
    """capture_cuda_graph replaced by one whose graph replays the body; a list of the bodies captured."""
    captured = []

    def capture(body, device, warmups=2):
        captured.append(body)
        return SimpleNamespace(replay=body)

    monkeypatch.setattr(captured_graph, "capture_cuda_graph", capture)
    return captured


def test_a_graph_is_captured_once_and_again_only_after_forget(simulated_capture):
    runs = []
    graph = CapturedGraph(lambda: runs.append(1), "cpu")
    graph.run()
    assert not graph.captured and graph.captures == 0 and simulated_capture == []  # a CPU runs the body eagerly
    graph.capturable = True  # as on a GPU
    graph.run()
    graph.run()
    assert graph.captured and graph.captures == 1 and len(runs) == 3
    graph.forget()
    graph.run()
    assert graph.captures == 2 and len(simulated_capture) == 2


def test_a_capture_that_fails_raises_unless_the_owner_asked_to_run_eagerly(monkeypatch, capsys):
    def cannot(body, device, warmups=2):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(captured_graph, "capture_cuda_graph", cannot)
    runs = []
    strict = CapturedGraph(lambda: runs.append(1), "cpu")
    strict.capturable = True
    with pytest.raises(RuntimeError, match="capturing"):
        strict.run()
    lenient = CapturedGraph(lambda: runs.append(1), "cpu", eager_if_capture_fails="the test body")
    lenient.capturable = True
    lenient.run()
    lenient.run()
    assert runs == [1, 1] and not lenient.capturable and lenient.captures == 0
    assert capsys.readouterr().err.count("capturing the test body failed (operation not permitted") == 1


def test_the_cell_list_captures_again_whenever_its_buffers_grow_and_keeps_every_pair(simulated_capture):
    finder = CellListPairs(REACH, CUTOFF, "cpu")
    finder.graph.capturable = True
    positions, nlocal = atoms(3)
    check(finder, positions, nlocal)
    check(finder, positions + 0.01, nlocal)  # same buffers: the graph is replayed
    assert finder.graph.captures == 1
    crowded = positions.copy()
    crowded[:60] *= 0.15  # a fuller cell and an atom with more candidates than the buffers hold
    check(finder, crowded, nlocal)
    assert finder.graph.captures >= 2 and finder.graph.captured
    more, _ = atoms(4, n=600)
    check(finder, more, 500)  # more positions and local atoms: new buffers, captured again
    assert finder.graph.captures >= 3 and np.all(finder.position_capacity >= 600)
