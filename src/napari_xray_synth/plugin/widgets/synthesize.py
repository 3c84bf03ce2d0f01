"""The "Synthesize" dock widget: click lesion centres, get N variants and their mask.

Input: an image layer and a Points layer with the lesion centres ("Add lesion points" makes one
in add mode, with the image's scale). Parameters: pathology, size in mm, severity, number of
variants, seed, method. The core's ``synthesize`` runs in a TaskRunner (progress bar, cancel).

Output: one 2-D image layer per variant (``<image> <pathology> v0``, ``v1``, ...) and one Labels
layer with the mask (the same for every variant, by construction). Separate layers rather than
one stack: each variant is a whole radiograph with its own seed and provenance, so the other
widgets (export, compare, denoise), which take 2-D layers, work on any of them directly.
"Regenerate variant k" remakes only layer k, with the seed now in the seed box (the same seed
gives the same image; another gives a new one); the other variants are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_xray_synth.core.conditions import PATHOLOGIES, SIZE_RANGE_MM, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import model_names
from napari_xray_synth.core.synthesize import (
    DEFAULT_MODEL,
    DEFAULT_SPACING_MM,
    MAX_VARIANTS,
    Variant,
    clipped_to_sliver,
    synthesize,
    synthesize_one,
)
from napari_xray_synth.plugin.layers import (
    META_KEY,
    grid_metadata,
    image_layer_tuple,
    labels_layer_tuple,
    layer_grid,
    layer_kind,
    radiograph_from_layer,
)
from napari_xray_synth.plugin.widgets.scroll import scrolling_layout
from napari_xray_synth.plugin.workers import TaskRunner, notify_error, notify_warning

#: What "size" measures, per pathology (the tooltip of the size box).
SIZE_MEANING = {
    "nodule": "diameter",
    "mass": "diameter",
    "effusion": "height of the fluid",
    "pneumothorax": "width of the air rim",
    "consolidation": "diameter of the affected region",
    "cardiomegaly": "transverse diameter of the heart",
}
DEFAULT_SIZE_MM = {
    "nodule": 12.0,
    "mass": 45.0,
    "effusion": 50.0,
    "pneumothorax": 20.0,
    "consolidation": 50.0,
    "cardiomegaly": 170.0,
}


@dataclass
class _Batch:
    """What the last run made: enough to regenerate one variant alone."""

    radiograph: Any
    conditions: tuple[Condition, ...]
    n_variants: int
    layer_names: list[str]
    labels_name: str
    regions: str | None = None
    model: str = "generator"
    method: str = "gan"


def variant_metadata(v: Variant, index: int) -> dict[str, Any]:
    """The layer metadata of a variant: the radiograph's, plus the conditions, seed and model."""
    step = v.radiograph.provenance[-1]
    meta = v.radiograph.metadata()
    meta.update(
        conditions=[c.to_dict() for c in v.conditions],
        seed=v.seed,
        variant_index=index,
        method=step.parameters.get("method"),
        model_id=step.model_id,
        model_sha256=step.model_sha256,
        synthetic=True,
    )
    return meta


class SynthesizeWidget(QWidget):
    """Dock widget: pathology-conditioned variants of the chosen image."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.runner = TaskRunner()
        self.batch: _Batch | None = None

        self.image_combo = QComboBox()
        self.points_combo = QComboBox()
        self.add_points_btn = QPushButton("Add lesion points")
        self.add_points_btn.setToolTip(
            "A Points layer on the image, in add mode: click where each lesion's centre goes"
        )
        self.pathology = QComboBox()
        self.pathology.addItems(PATHOLOGIES)
        self.size_mm = QDoubleSpinBox()
        self.size_mm.setDecimals(1)
        self.size_mm.setSuffix(" mm")
        self.severity = QDoubleSpinBox()
        self.severity.setRange(0.0, 1.0)
        self.severity.setSingleStep(0.05)
        self.severity.setValue(0.8)
        self.n_variants = QSpinBox()
        self.n_variants.setRange(0, MAX_VARIANTS)  # 0 is refused with a message, not silently
        self.n_variants.setValue(4)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.method = QComboBox()
        self.method.addItems(["gan", "physics"])
        self.model = QComboBox()
        self.model.setEditable(True)  # a name in the models folders, or a path
        self.model.addItems(model_names("conditional_unet") or [DEFAULT_MODEL])
        self.model.setCurrentText(DEFAULT_MODEL)
        self.model.setToolTip(
            "the GAN's generator: a model in the models folders ($XRAY_SYNTH_MODELS too), "
            "or the path of a .safetensors you trained (xray-synth train gan)"
        )
        self.model_browse = QPushButton("…")
        self.model_browse.clicked.connect(self._browse_model)
        self.method.currentTextChanged.connect(self._method_changed)
        self.lung_clip = QCheckBox("clip to lung field")
        self.lung_clip.setChecked(True)
        self.lung_clip.setToolTip(
            "Effusion, pneumothorax and consolidation stay inside the lung field estimated "
            "from the image (a heuristic; the provenance records it)"
        )
        self.run_btn = QPushButton("Synthesize")
        self.cancel_btn = QPushButton("Cancel")
        self.regen_index = QSpinBox()
        self.regen_index.setRange(0, 63)
        self.regen_index.setToolTip("which variant of the last run to remake")
        self.regen_btn = QPushButton("Regenerate")
        self.regen_btn.setToolTip(
            "Remake this variant alone with the seed above; the others and the mask stay"
        )

        form = QFormLayout()
        form.addRow("image", self.image_combo)
        form.addRow("points", self.points_combo)
        form.addRow("", self.add_points_btn)
        form.addRow("pathology", self.pathology)
        form.addRow("size", self.size_mm)
        form.addRow("severity", self.severity)
        form.addRow("variants", self.n_variants)
        form.addRow("seed", self.seed)
        form.addRow("method", self.method)
        gen = QHBoxLayout()
        gen.addWidget(self.model, 1)
        gen.addWidget(self.model_browse)
        form.addRow("generator", gen)
        form.addRow("", self.lung_clip)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.cancel_btn)
        regen = QHBoxLayout()
        regen.addWidget(QLabel("variant"))
        regen.addWidget(self.regen_index)
        regen.addWidget(self.regen_btn)
        layout = scrolling_layout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(regen)
        layout.addStretch()

        self.pathology.currentTextChanged.connect(self._on_pathology)
        self._on_pathology(self.pathology.currentText())
        self.add_points_btn.clicked.connect(self.add_points_layer)
        self.run_btn.clicked.connect(self.run)
        self.cancel_btn.clicked.connect(self.runner.cancel)
        self.regen_btn.clicked.connect(self.regenerate)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._refresh_layers()

    # ------------------------------------------------------------------ choices
    def _on_pathology(self, pathology: str) -> None:
        lo, hi = SIZE_RANGE_MM[pathology]
        self.size_mm.setRange(lo, hi)
        self.size_mm.setToolTip(f"{SIZE_MEANING[pathology]}, {lo:g}–{hi:g} mm")
        self.size_mm.setValue(DEFAULT_SIZE_MM[pathology])

    def _refresh_layers(self, *_: Any) -> None:
        for combo, kind in ((self.image_combo, "image"), (self.points_combo, "points")):
            current = combo.currentText()
            combo.clear()
            names = [ly.name for ly in self.viewer.layers if layer_kind(ly) == kind]
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)

    def _layer(self, combo: QComboBox) -> Any:
        name = combo.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def add_points_layer(self) -> Any:
        """A Points layer for lesion centres, on the chosen image's grid, in add mode."""
        image = self._layer(self.image_combo)
        grid = layer_grid(image) if image is not None else {"scale": (1.0, 1.0)}
        layer = self.viewer.add_points(
            np.empty((0, 2)),
            name="lesion points",
            size=8 * max(grid["scale"]),
            face_color="yellow",
            **grid,
        )
        layer.mode = "add"
        self._refresh_layers()
        self.points_combo.setCurrentText(layer.name)
        return layer

    # ------------------------------------------------------------------ inputs
    def conditions(self, image: Any, shape: tuple[int, int]) -> tuple[Condition, ...]:
        """Conditions from the points layer (pixel centres of the image), checked."""
        points = self._layer(self.points_combo)
        if points is None:
            raise InputError("no lesion points: press 'Add lesion points' and click the image")
        data = np.asarray(points.data)
        if data.size == 0:
            raise InputError("has no points: click where the lesions go", f"layer {points.name!r}")
        conds = []
        for i, p in enumerate(data):
            world = points.data_to_world(p)
            r, c = np.asarray(image.world_to_data(world))[-2:]
            cond = Condition(
                self.pathology.currentText(),
                (float(r), float(c)),
                self.size_mm.value(),
                self.severity.value(),
                shape_seed=self.seed.value() + i,
            )
            try:
                cond.check_inside(shape)
            except InputError as exc:
                raise InputError(exc.reason, f"layer {points.name!r}") from exc
            conds.append(cond)
        return tuple(conds)

    def _inputs(self) -> tuple[Any, Any, tuple[Condition, ...]]:
        image = self._layer(self.image_combo)
        if image is None:
            raise InputError("no image layer: open or simulate a radiograph first")
        rg = radiograph_from_layer(image)
        return image, rg, self.conditions(image, rg.shape)

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        """Check the inputs, then synthesize in the TaskRunner; layers come in ``_show``."""
        try:
            image, rg, conds = self._inputs()
            n = self.n_variants.value()
            if n < 1:
                raise InputError("the number of variants must be 1 or more")
        except InputError as exc:
            notify_error(exc)
            return
        if rg.spacing is None:
            notify_warning(
                f"layer {image.name!r} has no pixel size: sizes in mm assume "
                f"{DEFAULT_SPACING_MM:g} mm per pixel (recorded in the provenance); set the film's "
                "pixel size in the Radiograph widget"
            )
        # the clipping as it was when the run started (regenerate uses it too)
        regions = "lung" if self.lung_clip.isChecked() else None
        model = self.model_name()
        method = self.method.currentText()
        self._pending = (image, rg, conds, n, regions, model, method)
        self.runner.start(
            synthesize,
            rg,
            conds,
            n,
            self.seed.value(),
            method,
            model=model,
            regions=regions,
            on_result=self._show,
            desc="synthesize",
        )

    def _method_changed(self, method: str) -> None:
        self.model.setEnabled(method == "gan")
        self.model_browse.setEnabled(method == "gan")

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Generator weights", "", "safetensors (*.safetensors)"
        )
        if path:
            self.model.setCurrentText(path)

    def model_name(self) -> str:
        """The generator the GAN method uses (the default when the field is empty)."""
        return self.model.currentText().strip() or DEFAULT_MODEL

    def _show(self, variants: list[Variant]) -> None:
        image, rg, conds, n, regions, model, method = self._pending
        grid = layer_grid(image)  # on the film's grid, in its units
        grid_meta = grid_metadata(image)  # an assumed pixel size stays marked as assumed
        pathology = conds[0].pathology
        labels_name = f"{image.name} {pathology} mask"
        self._remove_run(labels_name)
        names = []
        for k, v in enumerate(variants):
            name = f"{image.name} {pathology} v{k}"
            data, kwargs, _ = image_layer_tuple(v.radiograph, name)
            kwargs.update(grid)
            kwargs["metadata"] = {META_KEY: {**variant_metadata(v, k), **grid_meta}}
            kwargs["name"] = name
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            names.append(self.viewer.add_image(data, **kwargs).name)
        meta = {
            "conditions": [c.to_dict() for c in conds],
            "seed": int(self.seed.value()),
            "variants": names,
            "synthetic": True,
            **grid_meta,
        }
        data, kwargs, _ = labels_layer_tuple(variants[0].mask, labels_name, grid["scale"], meta)
        kwargs.update(grid)
        self.viewer.add_labels(data, **kwargs)
        for line in clipped_to_sliver(variants[0]):
            notify_warning(f"layer {image.name!r}: {line}")
        self.batch = _Batch(rg, conds, n, names, labels_name, regions, model, method)
        self.regen_index.setMaximum(max(n - 1, 0))

    def _remove_run(self, labels_name: str) -> None:
        """Remove an earlier run of this film and pathology: its mask and the variants it lists
        (a variant left behind would be exported with the new run's mask)."""
        if labels_name not in self.viewer.layers:
            return
        old = self.viewer.layers[labels_name]
        listed = (old.metadata.get(META_KEY) or {}).get("variants", [])
        for name in [*listed, labels_name]:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)

    def regenerate(self) -> None:
        """Remake variant k alone (seed from the seed box), in place."""
        try:
            if self.batch is None:
                raise InputError("nothing to regenerate: synthesize variants first")
            k = self.regen_index.value()
            if not 0 <= k < len(self.batch.layer_names):
                raise InputError(f"there is no variant {k}")
            if self.batch.layer_names[k] not in self.viewer.layers:
                raise InputError(f"layer {self.batch.layer_names[k]!r} was removed")
        except InputError as exc:
            notify_error(exc)
            return
        b = self.batch
        self.runner.start(
            synthesize_one,
            b.radiograph,
            b.conditions,
            k,
            self.seed.value(),
            b.method,  # the batch's, as its generator and clipping: one batch, one method
            model=b.model,
            n_variants=b.n_variants,
            regions=b.regions,
            on_result=lambda v: self._replace(k, v),
            desc=f"regenerate variant {k}",
        )

    def _replace(self, k: int, v: Variant) -> None:
        layer = self.viewer.layers[self.batch.layer_names[k]]  # type: ignore[union-attr]
        layer.data = v.radiograph.image
        # the film's grid entries (an assumed pixel size's mark) stay, the variant's are new
        grid = layer.metadata.get(META_KEY, {})
        layer.metadata = {**layer.metadata, META_KEY: {**grid, **variant_metadata(v, k)}}
