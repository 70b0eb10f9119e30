"""`python -m itwin_mesh_export.cli`: the same as the `itwin-mesh-export` console script."""

from ._app import main

raise SystemExit(main())
