"""The `itwin-mesh-export` command-line tool (click and rich). Not imported by
`import itwin_mesh_export`: only the console script and `python -m itwin_mesh_export.cli` load it.

    itwin-mesh-export list --json
    itwin-mesh-export start IMODEL_ID && itwin-mesh-export wait EXPORT_ID
    itwin-mesh-export download EXPORT_ID tiles/

`itwin-mesh-export --help` lists the subcommands, the environment variables and the exit codes.
"""

from ._app import cli, main
from ._errors import EXIT_CODES, EXIT_INTERRUPTED, EXIT_SERVE

__all__ = ["EXIT_CODES", "EXIT_INTERRUPTED", "EXIT_SERVE", "cli", "main"]
