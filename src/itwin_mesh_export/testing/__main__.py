"""`python -m itwin_mesh_export.testing`: start the local Mesh Export service (see `_command.py`)."""

from ._command import main

raise SystemExit(main())
