"""Export of images, masks and manifests (TIFF, PNG, DICOM Secondary Capture, de-identified).

One job per module: :mod:`.raster` (image and mask files), :mod:`.dicom` (Secondary Capture),
:mod:`.deidentify` (PS3.15 Basic Profile), :mod:`.manifest` (CSV and JSON) and :mod:`.dataset`
(a folder of items with its manifest).
"""

from napari_xray_synth.core.export.dataset import (
    FORMATS,
    PATHOLOGY_OF_LABEL,
    ExportItem,
    export_dataset,
)
from napari_xray_synth.core.export.deidentify import UidMap, deidentify
from napari_xray_synth.core.export.dicom import build_dicom, read_source_header, write_dicom
from napari_xray_synth.core.export.manifest import manifest_row, read_manifest, write_manifest
from napari_xray_synth.core.export.raster import read_mask_file, write_image_file, write_mask_file

__all__ = [
    "FORMATS",
    "PATHOLOGY_OF_LABEL",
    "ExportItem",
    "UidMap",
    "build_dicom",
    "deidentify",
    "export_dataset",
    "manifest_row",
    "read_manifest",
    "read_mask_file",
    "read_source_header",
    "write_dicom",
    "write_image_file",
    "write_manifest",
    "write_mask_file",
]
