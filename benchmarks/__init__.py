"""The benchmark suite behind `make bench` (issue 7): `python -m benchmarks` writes BENCHMARKS.md.

Only the standard library is imported at this level: the peer's isolated virtual environment runs
`benchmarks._worker` too.
"""
