"""The "Radiograph" dock widget: open files, read the header, pick a window preset, invert.

Thin by design: files open through the plugin's reader (``viewer.open``), the header and the
windows come from the layer metadata that :mod:`napari_xray_synth.plugin.layers` wrote, and a
preset only sets the layer's contrast limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.presets import GENERIC_WINDOWS
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM
from napari_xray_synth.plugin.layers import ASSUMED_KEY, META_KEY, layer_spacing
from napari_xray_synth.plugin.widgets.scroll import scrolling_layout
from napari_xray_synth.plugin.workers import notify_error

#: What a film without a pixel size is offered: the size it is shown at until one is set.
OFFERED_SPACING_MM = ASSUMED_SPACING_MM

PLUGIN = "napari-xray-synth"
FILE_FILTER = "Radiographs (*.dcm *.dicom *.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"

_TOOLTIPS = {
    "LINEAR": "DICOM LINEAR window: its ramp's true limits (centre - 0.5, width - 1)",
    "LINEAR_EXACT": "DICOM LINEAR_EXACT window: exactly centre ± width / 2",
    "SIGMOID": "SIGMOID window shown as its nearest linear ramp: the same centre and the same "
    "slope at the centre (limits centre ± width / 2); the curve itself is not reproduced",
    "LUT": "VOI LUT table shown as a linear ramp over the input range where the table changes; "
    "the table's own curve is not reproduced",
}

_HEADER_ORDER = (
    "format",
    "modality",
    "rows",
    "columns",
    "frames",
    "bits_stored",
    "bits_allocated",
    "signed",
    "dtype",
    "photometric",
    "transfer_syntax",
    "modality_lut",
    "view_position",
    "body_part",
    "manufacturer",
)


def header_text(meta: dict[str, Any], name: str) -> str:
    """The read-only summary shown for a layer's ``xray_synth`` metadata."""
    header = dict(meta.get("header") or {})
    lines = [name]
    for key in _HEADER_ORDER:
        if key in header:
            lines.append(f"{key.replace('_', ' ')}: {header[key]}")
    spacing = meta.get("spacing_mm")
    source = meta.get("spacing_source", "unknown")
    lines.append(
        f"spacing: {spacing[0]:g} x {spacing[1]:g} mm ({source})"
        if spacing
        else f"spacing: {source}"
    )
    if not spacing and meta.get(ASSUMED_KEY):
        lines.append(f"shown at an assumed {meta[ASSUMED_KEY]:g} mm per pixel: set the pixel size")
    for w in meta.get("windows") or []:
        lines.append(f"window: {w.get('name')} ({w.get('function')})")
    compared = meta.get("compare")
    if compared:
        holds = {"absdiff": "|A - B|", "1-ssim": "1 - SSIM"}.get(compared.get("map_kind"), "?")
        lines.append(f"compare map: {holds} of {compared.get('a')!r} against {compared.get('b')!r}")
    if meta.get("synthetic"):
        lines.append("SYNTHETIC image")
    steps = meta.get("provenance") or []
    if steps:
        lines.append("history: " + " → ".join(s.get("operation", "?") for s in steps))
        if steps[0].get("source"):
            lines.append(f"source: {steps[0]['source']}")
    return "\n".join(lines)


class RadiographWidget(QWidget):
    """Dock widget: "Open…", the active layer's header, window presets and an invert toggle.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it).
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self._layer: Image | None = None

        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open DICOM, TIFF, PNG or JPEG radiographs")
        self.open_button.clicked.connect(self._open_dialog)
        self.layer_label = QLabel("no image layer selected")
        self.header_view = QPlainTextEdit()
        self.header_view.setReadOnly(True)
        self.header_view.setMinimumHeight(160)
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Window presets: the file's windows, then generic ones")
        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.invert_check = QCheckBox("Invert (gray ↔ gray_r)")
        self.invert_check.toggled.connect(self.set_inverted)
        self.spacing_spin = QDoubleSpinBox()
        self.spacing_spin.setRange(0.01, 5.0)
        self.spacing_spin.setDecimals(3)
        self.spacing_spin.setSingleStep(0.01)
        self.spacing_spin.setSuffix(" mm")
        self.spacing_spin.setValue(OFFERED_SPACING_MM)
        self.spacing_spin.setToolTip(
            "Pixel size of a film that carries none (PNG, JPEG, most TIFF): lesion sizes in mm "
            "and measurements use it. Set it before placing lesion points."
        )
        self.spacing_button = QPushButton("Set pixel size")
        self.spacing_button.clicked.connect(lambda: self.set_pixel_size(self.spacing_spin.value()))

        layout = scrolling_layout(self)
        layout.addWidget(self.open_button)
        layout.addWidget(self.layer_label)
        layout.addWidget(QLabel("Header (no identifiers)"))
        layout.addWidget(self.header_view)
        layout.addWidget(QLabel("Window preset"))
        layout.addWidget(self.preset_combo)
        layout.addWidget(self.invert_check)
        layout.addWidget(QLabel("Pixel size"))
        row = QHBoxLayout()
        row.addWidget(self.spacing_spin)
        row.addWidget(self.spacing_button)
        layout.addLayout(row)
        layout.addStretch(1)

        self.viewer.layers.selection.events.active.connect(self._refresh)
        self._refresh()

    def _watch(self, layer: Image | None) -> None:
        """Follow the shown layer's name and metadata: another widget may rename it (Compare
        renames its overlay when the map changes) or rewrite its metadata."""
        if layer is self._layer:
            return
        if self._layer is not None:
            self._layer.events.name.disconnect(self._refresh)
            self._layer.events.metadata.disconnect(self._refresh)
        if layer is not None:
            layer.events.name.connect(self._refresh)
            layer.events.metadata.connect(self._refresh)

    def _disconnect_all(self, *_args: Any) -> None:
        self.viewer.layers.selection.events.active.disconnect(self._refresh)
        self._watch(None)
        self._layer = None

    # ---------------------------------------------------------------------------- opening
    def _open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open radiographs", "", FILE_FILTER)
        if paths:
            self.open_files(paths)

    def open_files(self, paths: list[str | Path]) -> None:
        """Open files through the plugin's reader; bad files become notifications."""
        try:
            self.viewer.open([str(p) for p in paths], plugin=PLUGIN)
        except Exception as exc:  # napari wraps reader failures; show them, never raise
            notify_error(exc, "open")

    # ------------------------------------------------------------------------- the layer
    def active_image(self) -> Image | None:
        """The active layer when it is an image layer."""
        layer = self.viewer.layers.selection.active
        return layer if isinstance(layer, Image) else None

    def presets(self) -> list[dict[str, Any]]:
        """The presets for the current layer: its file's windows, then the generic ones."""
        items: list[dict[str, Any]] = []
        if self._layer is not None:
            meta = dict(self._layer.metadata or {}).get(META_KEY, {})
            for w in meta.get("windows") or []:
                if "limits" in w:
                    items.append({"name": w["name"], "limits": tuple(w["limits"]),
                                  "function": w.get("function", "LINEAR")})  # fmt: skip
        for w in GENERIC_WINDOWS:
            items.append({"name": w.name, "limits": w.limits, "function": "generic"})
        return items

    def _refresh(self, event: Any = None) -> None:
        try:
            self.layer_label.text()
        except RuntimeError:  # the dock widget was closed: stop listening
            self._disconnect_all()
            return
        active = self.active_image()
        self._watch(active)
        self._layer = active
        layer = self._layer
        enabled = layer is not None
        for w in (self.preset_combo, self.invert_check, self.spacing_spin, self.spacing_button):
            w.setEnabled(enabled)
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        if layer is None:
            self.layer_label.setText("no image layer selected")
            self.header_view.setPlainText("")
            self.preset_combo.blockSignals(False)
            return
        self.layer_label.setText(f"layer: {layer.name}")
        spacing = self.pixel_size(layer)
        self.spacing_spin.setValue(spacing if spacing else OFFERED_SPACING_MM)
        meta = dict(layer.metadata or {}).get(META_KEY)
        if meta:
            self.header_view.setPlainText(header_text(meta, layer.name))
        else:
            self.header_view.setPlainText(f"{layer.name}\n(not read by napari-xray-synth)")
        current = tuple(float(v) for v in layer.contrast_limits)
        selected = -1
        for i, item in enumerate(self.presets()):
            lo, hi = item["limits"]
            function = item["function"]
            label = item["name"] if function == "generic" else f"{item['name']} (file)"
            self.preset_combo.addItem(label, item)
            tip = _TOOLTIPS.get(function, f"generic preset: {lo:.2f}–{hi:.2f} in image units")
            self.preset_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
            if selected < 0 and abs(lo - current[0]) < 1e-6 and abs(hi - current[1]) < 1e-6:
                selected = i
        self.preset_combo.setCurrentIndex(max(selected, 0))
        self.preset_combo.blockSignals(False)
        self.invert_check.blockSignals(True)
        self.invert_check.setChecked(layer.colormap.name == "gray_r")
        self.invert_check.blockSignals(False)

    @staticmethod
    def pixel_size(layer: Any) -> float | None:
        """The layer's pixel size in mm (rows), or None when it has none."""
        spacing, _ = layer_spacing(layer)
        return None if spacing is None else spacing[0]

    # ---------------------------------------------------------------------------- actions
    def set_pixel_size(self, mm: float) -> None:
        """Give the active film a square pixel size of ``mm``: its scale (in mm) and its
        metadata, which synthesis, measurements and export read."""
        layer = self._layer
        if layer is None:
            notify_error(InputError("select an image layer first"), "pixel size")
            return
        meta = dict(layer.metadata or {})
        mine = dict(meta.get(META_KEY, {}))
        mine.update(spacing_mm=[float(mm), float(mm)], spacing_source="set in napari")
        mine.pop(ASSUMED_KEY, None)
        meta[META_KEY] = mine
        layer.metadata = meta
        layer.scale = (*tuple(layer.scale)[:-2], float(mm), float(mm))
        layer.units = (*tuple(layer.units)[:-2], "mm", "mm")
        self.viewer.reset_view()  # the film changed size in the world: show it whole again
        self._refresh()
        show_info(f"layer {layer.name!r}: pixel size {mm:g} mm")

    def _on_preset(self, index: int) -> None:
        if index >= 0:
            self.apply_preset(index)

    def apply_preset(self, index: int) -> None:
        """Set the active layer's contrast limits to preset ``index`` (image units)."""
        layer = self._layer
        item = self.preset_combo.itemData(index)
        if layer is None or not item:
            return
        lo, hi = (float(v) for v in item["limits"])
        if not hi > lo:
            hi = lo + 1e-6
        r0, r1 = layer.contrast_limits_range
        if lo < r0 or hi > r1:
            layer.contrast_limits_range = (min(lo, r0), max(hi, r1))
        layer.contrast_limits = (lo, hi)

    def set_inverted(self, inverted: bool) -> None:
        """gray_r when inverted, gray otherwise."""
        if self._layer is not None:
            self._layer.colormap = "gray_r" if inverted else "gray"
