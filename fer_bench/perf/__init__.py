"""Performance measurement helpers behind ``benchmarks/`` and the ``perf-report`` command:
test frames, compiled CNN workloads with their FLOP counts, the peak-FLOP/s matmul, the one-core
end-to-end worker and the training-set-size scaling study."""
