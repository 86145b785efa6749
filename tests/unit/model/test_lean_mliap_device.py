"""The lean export runs on the GPU of the arrays ML-IAP hands over, not a fixed CUDA index: with several ranks on a
node KOKKOS binds rank r to GPU r, and a fixed `cuda` would put every rank's model on device 0."""
import numpy as np
import torch

from mlmd_parsl.science.model.lean_mliap import array_device


class FakeKokkosView:
    """What a Kokkos view looks like to Python: an object with a CUDA array interface."""

    def __init__(self, pointer):
        self.__cuda_array_interface__ = {"data": (pointer, False), "shape": (4,), "typestr": "<i4", "version": 3}


def test_a_cuda_array_runs_on_its_own_gpu_whatever_the_model_device_says():
    gpu_of_pointer = {0x7000: 3, 0x9000: 1}
    reads = []

    def cuda_array_device(array):
        reads.append(array)
        return torch.device("cuda", gpu_of_pointer[array.__cuda_array_interface__["data"][0]])

    assert array_device(FakeKokkosView(0x7000), "cuda", cuda_array_device) == torch.device("cuda", 3)
    assert array_device(FakeKokkosView(0x9000), "cuda:0", cuda_array_device) == torch.device("cuda", 1)
    assert len(reads) == 2


def test_host_arrays_run_on_the_model_device():
    def never(array):
        raise AssertionError("a host array has no GPU to read")

    assert array_device(np.zeros(4, dtype=np.int32), "cpu", never) == torch.device("cpu")
    assert array_device(np.zeros(4, dtype=np.int32), "cuda:2", never) == torch.device("cuda", 2)
