"""Release tooling: the version record tied to the spec (versions.py) and publishing (publish.py)."""
