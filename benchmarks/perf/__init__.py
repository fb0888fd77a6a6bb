"""Performance measurement helpers of the benchmark suite (``benchmarks/``, not part of the
installed ``fer_bench``): test frames, compiled CNN workloads with their FLOP counts, the
peak-FLOP/s matmul, the one-core end-to-end worker and the training-set-size scaling study."""
