"""GPU step code shared by the engine and the lean export: the captured-graph helper every captured step uses,
the fused Triton pair kernels, and the lean export's captured step inside the seed's engine (KOKKOS)."""
