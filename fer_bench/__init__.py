"""fer-bench: classical and deep facial-expression-recognition pipelines, benchmarked honestly."""
__version__ = "0.1.0"
