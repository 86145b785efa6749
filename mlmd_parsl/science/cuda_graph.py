"""Capturing a step as one CUDA graph, as every captured step here does it (the engine's model step, its cell
list, the lean export's step in the seed's engine)."""
import torch


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
