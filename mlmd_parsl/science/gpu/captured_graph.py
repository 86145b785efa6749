"""What every captured step here shares (the engine's model step, its cell list, the lean export's step in the
seed's engine): buffers of fixed size with headroom, padding pairs that add exactly zero, and one CUDA graph of
the step's body, captured again whenever the buffers grow (a graph holds the addresses of the buffers it was
captured on). On a CPU nothing is captured: the same fixed-shape body runs eagerly, which is how tests check it."""
import math
import sys

import torch

HEADROOM = 1.25  # buffers get a quarter more than needed now: a slowly growing count captures again rarely
FAR_AWAY = 1.0e3  # Angstrom: the vector of padding pairs, far beyond any cutoff


def with_headroom(count, spare=1) -> int:
    """A buffer's size for `count` entries now: HEADROOM more, plus `spare` (e.g. a dummy atom's slot)."""
    return math.ceil(count * HEADROOM) + spare


def far_away_vectors(rows, device) -> torch.Tensor:
    """(rows, 3) float64 pair vectors of padding pairs: FAR_AWAY along x."""
    vectors = torch.zeros((rows, 3), dtype=torch.float64, device=device)
    vectors[:, 0] = FAR_AWAY
    return vectors


def fill_padded(buffer, count, values, pad):
    """The buffer's first `count` entries become values (None: already written), the rest pad: a number, or a
    tensor as long as the buffer whose rows past `count` are copied (e.g. far_away_vectors)."""
    if values is not None:
        buffer[:count] = values
    rows = isinstance(pad, torch.Tensor) and pad.dim() > 0
    buffer[count:] = pad[count:len(buffer)] if rows else pad


def capture_cuda_graph(body, device, warmups=2) -> "torch.cuda.CUDAGraph":
    """body() run `warmups` times on a side stream first (lazy initialisation, kernel compilation, autograd, the
    allocator: none of that may happen inside a capture), then captured once; returns the graph to replay."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(warmups):
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph


class CapturedGraph:
    """body() - which reads and writes only its owner's fixed buffers - as one CUDA graph on a GPU, eagerly elsewhere.

    The owner calls forget() when it allocates new buffers; the next run() (or an explicit capture()) captures
    again. `eager_if_capture_fails` names what runs eagerly from then on when a capture raises RuntimeError (a torch
    or driver that cannot capture these ops); without it the error reaches the owner."""

    def __init__(self, body, device, warmups=2, eager_if_capture_fails=None):
        self.body, self.warmups = body, warmups
        self.device = torch.device(device)
        self.capturable = self.device.type == "cuda"
        self.eager_if_capture_fails = eager_if_capture_fails
        self.graph = None
        self.captures = 0

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def forget(self):
        self.graph = None

    def capture(self):
        """Capture now, where capturable (a no-op elsewhere)."""
        self.graph = None
        if not self.capturable:
            return
        try:
            self.graph = capture_cuda_graph(self.body, self.device, self.warmups)
        except RuntimeError as exc:
            if self.eager_if_capture_fails is None:
                raise
            sys.stderr.write(f"capturing {self.eager_if_capture_fails} failed ({str(exc)[:300]}); it runs eagerly\n")
            self.capturable = False
            return
        self.captures += 1

    def run(self):
        """One step: the graph replayed (captured first if the buffers changed), or the body run eagerly."""
        if self.graph is None and self.capturable:
            self.capture()
        if self.graph is not None:
            self.graph.replay()
        else:
            self.body()
