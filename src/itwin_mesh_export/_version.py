"""The distribution's version, read by pyproject.toml (hatch) and reported at run time."""

__version__ = "0.1.0"
