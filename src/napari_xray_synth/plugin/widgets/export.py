"""The "Export" dock widget: chosen image layers with their (edited) masks to a data set folder.

Each checked image layer is written with the Labels layer chosen beside it (the mask as the user
left it), in PNG (16-bit), TIFF (float32) or DICOM (Secondary Capture, de-identified unless the
box is cleared), with ``manifest.csv`` and ``manifest.json``. The work runs in a TaskRunner.

"Paint lesions" gives a real film an empty lesion mask on its grid, paired with it for export,
with the brush set to the chosen pathology's label: annotated films exported this way are what
``xray-synth train gan --data manifest.csv`` fine-tunes the generator on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from napari_xray_synth.core.conditions import LABELS, PATHOLOGIES, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import FORMATS, ExportItem, export_dataset
from napari_xray_synth.plugin.layers import (
    ASSUMED_KEY,
    META_KEY,
    annotation_layer_tuple,
    grid_metadata,
    layer_kind,
    radiograph_from_layer,
)
from napari_xray_synth.plugin.widgets.scroll import scrolling_layout
from napari_xray_synth.plugin.workers import TaskRunner, notify_error

NO_MASK = "(no mask)"


class ElidedCombo(QComboBox):
    """A combo box that shows a long layer name elided in the middle, keeping both its film at
    the start and what it is at the end ("00001368…nodule mask"), where a plain one cuts the
    end off; its list and tooltip give the whole name."""

    def shown_text(self) -> str:
        """The current text as drawn in the box's present width."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return self.fontMetrics().elidedText(
            self.currentText(), Qt.TextElideMode.ElideMiddle, field.width()
        )

    def paintEvent(self, event: Any) -> None:
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)


def _meta(layer: Any) -> dict:
    return dict((getattr(layer, "metadata", None) or {}).get(META_KEY, {}) or {})


def _conditions_and_seed(*layers: Any) -> tuple[tuple[Condition, ...], int | None]:
    """Conditions and seed stored in layer metadata by synthesis (first layer that has them)."""
    for layer in layers:
        if layer is None:
            continue
        meta = _meta(layer)
        if meta.get("conditions"):
            conds = tuple(Condition.from_dict(c) for c in meta["conditions"])
            seed = meta.get("seed")
            return conds, None if seed is None else int(seed)
    return (), None


def export_item(image_layer: Any, labels_layer: Any | None) -> ExportItem:
    """An :class:`ExportItem` from an image layer and its labels layer (or None).

    Raises
    ------
    InputError
        Naming the layer: not a 2-D greyscale image, or a mask that is not a 2-D labels layer of
        the image's shape.
    """
    rg = radiograph_from_layer(image_layer)
    mask = None
    if labels_layer is not None:
        name = f"layer {labels_layer.name!r}"
        if layer_kind(labels_layer) != "labels":
            raise InputError(f"is a {layer_kind(labels_layer)} layer, not a labels layer", name)
        mask = np.asarray(labels_layer.data)
        if mask.shape != rg.shape:
            raise InputError(
                f"has shape {mask.shape}; its image {image_layer.name!r} has {rg.shape}", name
            )
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            raise InputError("holds labels outside 0..255", name)
    conds, seed = _conditions_and_seed(image_layer, labels_layer)  # the variant's own seed first
    # the manifest says at which assumed pixel size a film without one was shown and painted
    assumed = grid_metadata(image_layer).get(ASSUMED_KEY)
    return ExportItem(image_layer.name, rg, mask, conds, seed, assumed)


class ExportWidget(QWidget):
    """Export image layers and their Labels layers as a data set with a manifest."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.runner = TaskRunner()
        self.last_manifest: Path | None = None

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["image layer", "mask (labels layer)"])
        # both columns share the width, and a few rows stay visible in a crowded dock
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(150)
        # long names keep their film and their variant ("00001368…nodule v1")
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("output folder")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        self.deidentify = QCheckBox("de-identify DICOM headers (PS3.15 Basic Profile)")
        self.deidentify.setChecked(True)
        self.export_button = QPushButton("Export")
        self.export_button.clicked.connect(self.export)
        self._chosen: dict[str, str] = {}  # masks picked by hand, by image layer
        self.refresh_button = QPushButton("Refresh list")
        self.refresh_button.clicked.connect(self.refresh)
        self.paint_on = QComboBox()
        self.paint_on.setToolTip("the film to annotate")
        self.pathology = QComboBox()
        self.pathology.addItems(list(PATHOLOGIES))
        self.pathology.setToolTip("the brush paints this pathology's label")
        self.pathology.currentTextChanged.connect(self._brush)
        self.paint_button = QPushButton("Paint lesions")
        self.paint_button.setToolTip(
            "a lesion mask on the film's grid, exported with it; paint one region per lesion"
        )
        self.paint_button.clicked.connect(self.annotate)
        paint = QFormLayout()
        pick = QHBoxLayout()
        pick.addWidget(self.paint_on, 2)
        pick.addWidget(self.pathology, 1)
        paint.addRow("annotate", pick)
        paint.addRow(self.paint_button)

        form = QFormLayout()
        form.addRow("folder", row)
        form.addRow("format", self.format)
        form.addRow(self.deidentify)
        layout = scrolling_layout(self)
        layout.addLayout(paint)
        layout.addWidget(self.table)
        layout.addWidget(self.refresh_button)
        layout.addLayout(form)
        layout.addWidget(self.export_button)

        events = self.viewer.layers.events
        events.inserted.connect(self.refresh)
        events.removed.connect(self.refresh)
        self.refresh()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder")
        if folder:
            self.folder.setText(folder)

    def refresh(self, *_: Any) -> None:
        """List the image layers and pair each with a likely labels layer.

        A layer already listed keeps its tick and its mask; a new one is ticked (a Compare map
        is not: it is a measurement, not a radiograph) and gets its likely mask.
        """
        before = self._rows()
        checked = {name for name, _ in self.selection()}
        images = [ly for ly in self.viewer.layers if layer_kind(ly) == "image"]
        labels = [ly.name for ly in self.viewer.layers if layer_kind(ly) == "labels"]
        current = self.paint_on.currentText()
        self.paint_on.clear()
        self.paint_on.addItems([ly.name for ly in images])
        if current in [ly.name for ly in images]:
            self.paint_on.setCurrentText(current)
        self.table.setRowCount(len(images))
        for i, layer in enumerate(images):
            item = QTableWidgetItem(layer.name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            on = layer.name in checked if layer.name in before else "compare" not in _meta(layer)
            chosen = self._chosen.get(layer.name, "")
            if chosen == NO_MASK or chosen in labels:
                match = None if chosen == NO_MASK else chosen
            else:
                match = self._likely_mask(layer.name, labels)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            item.setToolTip(layer.name)
            self.table.setItem(i, 0, item)
            combo = ElidedCombo()
            combo.addItems([NO_MASK, *labels])
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 8)
            if match:
                combo.setCurrentText(match)
            tip = lambda text, c=combo: c.setToolTip(f"{text}: the mask exported with this image")  # noqa: E731
            tip(combo.currentText())
            combo.currentTextChanged.connect(tip)
            # a mask the user picks (or "(no mask)") is kept through later refreshes
            combo.textActivated.connect(lambda text, n=layer.name: self._chosen.update({n: text}))
            self.table.setCellWidget(i, 1, combo)

    def _rows(self) -> set[str]:
        """The image layers listed now."""
        items = (self.table.item(i, 0) for i in range(self.table.rowCount()))
        return {item.text() for item in items if item is not None}

    def _likely_mask(self, image_name: str, labels: list[str]) -> str | None:
        """The labels layer that lists the image as its variant, else one named after it."""
        for name in labels:
            if image_name in _meta(self.viewer.layers[name]).get("variants", []):
                return name
        stem = re.sub(r" v\d+$", "", image_name)  # "chest nodule v2" -> "chest nodule"
        for name in labels:
            if "variants" in _meta(self.viewer.layers[name]):
                # a synthesis mask or a film's painted lesions pairs through its metadata alone:
                # "chest nodule mask" is not the source film's, nor a replaced run's variant's
                continue
            # "case1 mask" belongs to "case1", not to "case10"
            if any(name == s or name.startswith(s + " ") for s in (image_name, stem)):
                return name
        return None

    def selection(self) -> list[tuple[str, str | None]]:
        """(image layer name, labels layer name or None) of the checked rows."""
        out = []
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            if item is None or item.checkState() != Qt.CheckState.Checked:
                continue
            combo = self.table.cellWidget(i, 1)
            mask = combo.currentText() if combo is not None else NO_MASK
            out.append((item.text(), None if mask == NO_MASK else mask))
        return out

    def set_mask(self, image_name: str, labels_name: str | None) -> None:
        """Choose the labels layer exported with ``image_name`` (None: no mask)."""
        self._chosen[image_name] = labels_name or NO_MASK
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).text() == image_name:
                self.table.cellWidget(i, 1).setCurrentText(labels_name or NO_MASK)

    def items(self) -> list[ExportItem]:
        """Build the export items of the checked rows (raises InputError naming a bad layer)."""
        layers = {ly.name: ly for ly in self.viewer.layers}
        items = []
        for image_name, labels_name in self.selection():
            if image_name not in layers:
                raise InputError("is gone; refresh the list", f"layer {image_name!r}")
            if labels_name is not None and labels_name not in layers:
                raise InputError("is gone; refresh the list", f"layer {labels_name!r}")
            labels = layers[labels_name] if labels_name else None
            items.append(export_item(layers[image_name], labels))
        if not items:
            raise InputError("no image layer is checked for export")
        return items

    def _annotation_of(self, image_name: str) -> Any | None:
        for layer in self.viewer.layers:
            meta = _meta(layer)
            if layer_kind(layer) == "labels" and meta.get("annotation"):
                if image_name in meta.get("variants", []):
                    return layer
        return None

    def annotate(self) -> Any | None:
        """Give the chosen film its lesion mask (made once) and set the brush; None on error."""
        name = self.paint_on.currentText()
        try:
            if name not in self.viewer.layers:
                raise InputError("add a film (an image layer) to paint lesions on")
            layer = self._annotation_of(name)
            if layer is None:
                data, kwargs, _ = annotation_layer_tuple(self.viewer.layers[name])
                layer = self.viewer.add_labels(data, **kwargs)
        except InputError as exc:
            notify_error(exc, "annotate")
            return None
        self.set_mask(name, layer.name)
        self.viewer.layers.selection.active = layer
        layer.mode = "paint"
        self._brush()
        return layer

    def _brush(self, *_: Any) -> None:
        """The active annotation layer's brush paints the chosen pathology."""
        layer = self.viewer.layers.selection.active
        if layer is not None and layer_kind(layer) == "labels" and _meta(layer).get("annotation"):
            layer.selected_label = LABELS[self.pathology.currentText()]

    def export(self) -> Any:
        """Write the data set in a worker; a notification says where the manifest is."""
        folder = self.folder.text().strip()
        try:
            if not folder:
                raise InputError("choose an output folder first")
            items = self.items()
        except InputError as exc:
            notify_error(exc, "export")
            return None

        def done(manifest: Path) -> None:
            self.last_manifest = manifest
            show_info(f"exported {len(items)} image(s); manifest: {manifest}")

        return self.runner.start(
            export_dataset,
            items,
            folder,
            self.format.currentText(),
            deidentify=self.deidentify.isChecked(),
            on_result=done,
            desc="export",
        )
