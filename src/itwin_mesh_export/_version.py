"""The distribution's version, read by pyproject.toml (hatch) and reported at run time."""

__version__ = "0.2.0"
