"""A download run in its own process, so a test can SIGKILL it at any moment:

    python -m tests.reliability._download_child API_URL TOKEN EXPORT_ID DEST

It does what a pipeline does: gets a fresh link from the API, downloads the tileset with
`refresh_href` for expired signatures, and exits 0 when the download is complete.
"""

from __future__ import annotations

import sys

from itwin_mesh_export import MeshExportClient, download_tileset


def main(api_url: str, token: str, export_id: str, dest: str) -> int:
    with MeshExportClient(token, base_url=api_url) as client:

        def fresh() -> str:
            href = client.get_mesh_href(export_id)
            assert href is not None
            return href

        download_tileset(fresh(), dest, refresh_href=fresh, concurrency=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
