from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportStatsDisplay")


@_attrs_define
class ExportStatsDisplay:
    """Statistics of the export job. This obsoletes the Consumption type.

    Attributes:
        i_model_size (float | Unset): Size of the iModel .bin file, in bytes
        compressed_size (float | Unset): Size of the exported and compressed tiles, in bytes.
        raw_size (float | Unset): Size of the exported tiles, in bytes.
        start_time (datetime.datetime | Unset): Starting date of the export job, pretty-printed.
        duration (float | Unset): Duration of the export job, in milliseconds.
        disk_size (float | Unset):  Disk size, in bytes.
        free_disk_space (float | Unset): Free disk space, in bytes.
        export_dir_size (float | Unset): Export directory size, in bytes.
        export_dir_structure (ExportDirStructure | Unset): List of export directory children along with their size, in
            bytes.
        metrics (ExportMetrics | Unset): Memory and CPU usage metrics from the graphics and tiles producer.
    """

    i_model_size: float | Unset = UNSET
    compressed_size: float | Unset = UNSET
    raw_size: float | Unset = UNSET
    start_time: datetime.datetime | Unset = UNSET
    duration: float | Unset = UNSET
    disk_size: float | Unset = UNSET
    free_disk_space: float | Unset = UNSET
    export_dir_size: float | Unset = UNSET
    export_dir_structure: ExportDirStructure | Unset = UNSET
    metrics: ExportMetrics | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        i_model_size = self.i_model_size

        compressed_size = self.compressed_size

        raw_size = self.raw_size

        start_time: str | Unset = UNSET
        if not isinstance(self.start_time, Unset):
            start_time = self.start_time.isoformat()

        duration = self.duration

        disk_size = self.disk_size

        free_disk_space = self.free_disk_space

        export_dir_size = self.export_dir_size

        export_dir_structure: dict[str, Any] | Unset = UNSET
        if not isinstance(self.export_dir_structure, Unset):
            export_dir_structure = self.export_dir_structure.to_dict()

        metrics: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metrics, Unset):
            metrics = self.metrics.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if i_model_size is not UNSET:
            field_dict["iModelSize"] = i_model_size
        if compressed_size is not UNSET:
            field_dict["compressedSize"] = compressed_size
        if raw_size is not UNSET:
            field_dict["rawSize"] = raw_size
        if start_time is not UNSET:
            field_dict["startTime"] = start_time
        if duration is not UNSET:
            field_dict["duration"] = duration
        if disk_size is not UNSET:
            field_dict["diskSize"] = disk_size
        if free_disk_space is not UNSET:
            field_dict["freeDiskSpace"] = free_disk_space
        if export_dir_size is not UNSET:
            field_dict["exportDirSize"] = export_dir_size
        if export_dir_structure is not UNSET:
            field_dict["exportDirStructure"] = export_dir_structure
        if metrics is not UNSET:
            field_dict["metrics"] = metrics

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        i_model_size = d.get("iModelSize", UNSET)

        compressed_size = d.get("compressedSize", UNSET)

        raw_size = d.get("rawSize", UNSET)

        _start_time = d.get("startTime", UNSET)
        start_time: datetime.datetime | Unset
        if isinstance(_start_time, Unset):
            start_time = UNSET
        else:
            start_time = datetime.datetime.fromisoformat(_start_time.upper())

        duration = d.get("duration", UNSET)

        disk_size = d.get("diskSize", UNSET)

        free_disk_space = d.get("freeDiskSpace", UNSET)

        export_dir_size = d.get("exportDirSize", UNSET)

        _export_dir_structure = d.get("exportDirStructure", UNSET)
        export_dir_structure: ExportDirStructure | Unset
        if isinstance(_export_dir_structure, Unset):
            export_dir_structure = UNSET
        else:
            export_dir_structure = ExportDirStructure.from_dict(_export_dir_structure)

        _metrics = d.get("metrics", UNSET)
        metrics: ExportMetrics | Unset
        if isinstance(_metrics, Unset):
            metrics = UNSET
        else:
            metrics = ExportMetrics.from_dict(_metrics)

        export_stats_display = cls(
            i_model_size=i_model_size,
            compressed_size=compressed_size,
            raw_size=raw_size,
            start_time=start_time,
            duration=duration,
            disk_size=disk_size,
            free_disk_space=free_disk_space,
            export_dir_size=export_dir_size,
            export_dir_structure=export_dir_structure,
            metrics=metrics,
        )

        return export_stats_display


from ..models.export_dir_structure import ExportDirStructure  # noqa: E402
from ..models.export_metrics import ExportMetrics  # noqa: E402
