"""Benchmarks of touchstream: `python -m loadtests.bench_collector` and `python -m loadtests.bench_stream`.

Results are printed as markdown and written to `loadtests/results/` (git-ignored); BENCHMARKS.md has the
numbers of the reference run and how to read them.
"""
