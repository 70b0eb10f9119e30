"""Contains all the data models used in inputs/outputs"""

from .detailed_error import DetailedError
from .detailed_error_response import DetailedErrorResponse
from .error import Error
from .error_response import ErrorResponse
from .export import Export
from .export_dir_structure import ExportDirStructure
from .export_links import ExportLinks
from .export_metrics import ExportMetrics
from .export_response import ExportResponse
from .export_result_body import ExportResultBody
from .export_stats_display import ExportStatsDisplay
from .export_status import ExportStatus
from .export_summary import ExportSummary
from .export_type import ExportType
from .exports_order_by import ExportsOrderBy
from .exports_page import ExportsPage
from .link import Link
from .page_links import PageLinks
from .prefer_return import PreferReturn
from .start_export import StartExport
from .tiler_config_item import TilerConfigItem

__all__ = (
    "DetailedError",
    "DetailedErrorResponse",
    "Error",
    "ErrorResponse",
    "Export",
    "ExportDirStructure",
    "ExportLinks",
    "ExportMetrics",
    "ExportResponse",
    "ExportResultBody",
    "ExportsOrderBy",
    "ExportsPage",
    "ExportStatsDisplay",
    "ExportStatus",
    "ExportSummary",
    "ExportType",
    "Link",
    "PageLinks",
    "PreferReturn",
    "StartExport",
    "TilerConfigItem",
)
