"""What runs inside the worker processes: one factory per measured variant (see `benchmarks._worker`).

Each factory sets up its client once and returns the round: a callable that does the round's work
and returns the number of units it handled. Imports of the libraries under test happen inside the
factories, so a worker loads only what its variant uses.
"""
