"""gabalance benchmarks: the suite (``python -m bench.run``) and the single-purpose scripts."""
