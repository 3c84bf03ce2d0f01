"""The "Denoise & enhance" dock widget: parameters in, core work in a worker, a new layer out.

Thin by design: the input layer becomes a Radiograph through :mod:`plugin.layers` (which refuses
labels, points, RGB and NaN layers with a message naming the layer), the work runs in
:class:`plugin.workers.TaskRunner` (napari progress bar, working cancel, the viewer stays live),
and the result is a new image layer named "<input> denoised (<method>)" with the input's scale
and the provenance in its metadata. The input layer is never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_xray_synth.core.denoise import METHODS, STRENGTH_RANGES, check_strength, denoise
from napari_xray_synth.core.device import available_devices, pick_device
from napari_xray_synth.core.enhance import CLAHE_CLIP, GAMMA, UNSHARP_AMOUNT, enhance
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.plugin.layers import (
    image_layer_tuple,
    layer_grid,
    layer_kind,
    radiograph_from_layer,
)
from napari_xray_synth.plugin.widgets.scroll import scrolling_layout
from napari_xray_synth.plugin.workers import TaskRunner, notify_error, notify_warning

NO_DENOISE = "none (enhance only)"
NO_STEP = (
    "no enhancement step was chosen: set a CLAHE clip, an unsharp amount or a gamma other than 1"
)


def denoise_enhance(
    images: list[Radiograph],
    method: str,
    strength: str | float,
    device: str,
    tile: int,
    clahe: float | None,
    unsharp: float | None,
    gamma: float | None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> list[Radiograph]:
    """Denoise (unless ``method`` is :data:`NO_DENOISE`) then enhance each image (worker body).

    Errors and a cancel propagate: the TaskRunner shows them as one notification.
    """
    out = images
    if method != NO_DENOISE:
        res = denoise(
            images,
            method=method,
            strength=strength,
            device=device,
            tile=tile,
            progress=progress,
            cancel=cancel,
        )
        out = res if isinstance(res, list) else [res]
    if clahe is not None or unsharp is not None or gamma is not None:
        enhanced = []
        for rg in out:
            check_cancel(cancel)
            enhanced.append(
                enhance(rg, clahe=clahe, unsharp=unsharp, gamma=gamma, device=device, cancel=cancel)
            )
        out = enhanced
    return out


def _spin(
    lo: float, hi: float, value: float, step: float, decimals: int, tip: str
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class DenoiseWidget(QWidget):
    """Denoise (trained model or a classical filter) and enhance an image layer."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.runner = TaskRunner()

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("the layer to denoise (it is never modified)")
        self.method_combo = QComboBox()
        self.method_combo.addItems([*METHODS, NO_DENOISE])
        self.method_combo.setToolTip("model: the shipped network; others: scikit-image filters")
        self.auto_check = QCheckBox("auto")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("estimate the noise from the image")
        # its range, step and first value follow the method (core.denoise.STRENGTH_RANGES)
        self.strength_spin = _spin(0.0, 1.0, 0.02, 0.005, 4, "")
        self.strength_spin.setEnabled(False)
        self.clahe_spin = _spin(CLAHE_CLIP.lo, CLAHE_CLIP.hi, 0.0, 0.005, 4, "")
        self.clahe_spin.setToolTip(f"CLAHE clip limit, {CLAHE_CLIP.text()} (0 = off, 1 = no limit)")
        self.unsharp_spin = _spin(UNSHARP_AMOUNT.lo, UNSHARP_AMOUNT.hi, 0.0, 0.1, 2, "")
        self.unsharp_spin.setToolTip(f"unsharp-mask amount, {UNSHARP_AMOUNT.text()} (0 = off)")
        self.gamma_spin = _spin(GAMMA.lo, GAMMA.hi, 1.0, 0.05, 2, "")
        self.gamma_spin.setToolTip(f"gamma, {GAMMA.text()} (1 = off; < 1 brightens)")
        self.device_combo = QComboBox()
        devices = available_devices()
        self.device_combo.addItems(devices)
        self.device_combo.setCurrentText(pick_device("auto").type)
        self.device_combo.setToolTip(f"detected: {', '.join(devices)}")
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(16, 8192)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setValue(512)
        self.tile_spin.setToolTip("largest tile side in pixels (smaller: less memory)")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)

        strength_row = QHBoxLayout()
        strength_row.addWidget(self.auto_check)
        strength_row.addWidget(self.strength_spin)
        form = QFormLayout()
        form.addRow("input", self.layer_combo)
        form.addRow("method", self.method_combo)
        form.addRow("strength", strength_row)
        form.addRow("device", self.device_combo)
        form.addRow("tile", self.tile_spin)
        enh = QGroupBox("enhancement")
        enh_form = QFormLayout(enh)
        enh_form.addRow("CLAHE clip", self.clahe_spin)
        enh_form.addRow("unsharp amount", self.unsharp_spin)
        enh_form.addRow("gamma", self.gamma_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = scrolling_layout(self)
        layout.addLayout(form)
        layout.addWidget(enh)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.auto_check.toggled.connect(self._strength_enabled)
        self.method_combo.currentTextChanged.connect(self._method_changed)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.runner.cancel)
        for event in ("inserted", "removed", "moved", "changed"):
            getattr(self.viewer.layers.events, event).connect(self._refresh_layers)
        self._refresh_layers()
        self._method_changed(self.method_combo.currentText())

    def _refresh_layers(self, *_: Any) -> None:
        current = self.layer_combo.currentText()
        self.layer_combo.clear()
        self.layer_combo.addItems([layer.name for layer in self.viewer.layers])
        if current:
            self.layer_combo.setCurrentText(current)
        if self.layer_combo.currentIndex() < 0 and len(self.viewer.layers):
            self.layer_combo.setCurrentIndex(len(self.viewer.layers) - 1)

    def _strength_enabled(self, *_: Any) -> None:
        method = self.method_combo.currentText()
        self.strength_spin.setEnabled(not self.auto_check.isChecked() and method != NO_DENOISE)

    def _method_changed(self, method: str) -> None:
        """Give the strength box the method's range, step and typical value (units differ)."""
        r = STRENGTH_RANGES.get(method)
        self.auto_check.setEnabled(r is not None)
        if r is None:
            self.strength_spin.setToolTip("no denoising")
        else:
            decimals = 0 if r.integer else 4
            self.strength_spin.setDecimals(decimals)
            self.strength_spin.setSingleStep(1.0 if r.integer else r.hi / 100)
            # a range open at lo (a filter at 0 changes nothing) starts one step of the box above
            self.strength_spin.setRange(r.lo + (10.0**-decimals if r.lo_open else 0.0), r.hi)
            self.strength_spin.setValue(r.default)
            self.strength_spin.setToolTip(f"{r.meaning}, {r.text()}")
        self._strength_enabled()

    def _input(self) -> tuple[Any, list[Radiograph]]:
        name = self.layer_combo.currentText()
        if not name or name not in self.viewer.layers:
            raise InputError("choose an image layer first")
        layer = self.viewer.layers[name]
        data = getattr(layer, "data", None)
        kind = layer_kind(layer)
        if kind == "image" and not getattr(layer, "rgb", False) and np.ndim(data) == 3:
            return layer, [radiograph_from_layer(layer, plane=np.asarray(p)) for p in data]
        return layer, [radiograph_from_layer(layer)]

    def parameters(self) -> dict[str, Any]:
        """The current settings as keyword arguments of :func:`denoise_enhance`."""
        clahe = self.clahe_spin.value()
        unsharp = self.unsharp_spin.value()
        gamma = self.gamma_spin.value()
        return {
            "method": self.method_combo.currentText(),
            "strength": "auto" if self.auto_check.isChecked() else self.strength_spin.value(),
            "device": self.device_combo.currentText(),
            "tile": self.tile_spin.value(),
            # a step at its identity (core.enhance.RANGES) is off
            "clahe": None if CLAHE_CLIP.is_identity(clahe) else clahe,
            "unsharp": None if UNSHARP_AMOUNT.is_identity(unsharp) else unsharp,
            "gamma": None if GAMMA.is_identity(gamma) else gamma,
        }

    def run(self) -> Any:
        """Start the work in a worker; returns the napari worker (None when refused or sync)."""
        try:
            layer, images = self._input()
        except InputError as exc:
            notify_error(exc, "denoise")
            return None
        params = self.parameters()
        method = params["method"]
        if method == NO_DENOISE and all(params[k] is None for k in ("clahe", "unsharp", "gamma")):
            notify_warning(NO_STEP)  # an identical copy is no result
            return None
        try:  # as the CLI refuses it: a strength that would change nothing, out of range
            if method != NO_DENOISE:
                check_strength(method, params["strength"])
        except InputError as exc:
            notify_warning(str(exc))
            return None
        suffix = "enhanced" if method == NO_DENOISE else f"denoised ({method})"
        name = f"{layer.name} {suffix}"
        grid = layer_grid(layer)
        stacked = len(images) > 1 or np.ndim(layer.data) == 3

        def on_result(results: list[Radiograph]) -> None:
            data, kwargs, _ = image_layer_tuple(results[0], name)
            if stacked:
                data = np.stack([r.image for r in results])
                kwargs["metadata"]["xray_synth"]["slices"] = len(results)
            kwargs.update(grid)
            self.viewer.add_image(data, **kwargs)

        def on_finish() -> None:
            self.run_button.setEnabled(True)
            self.cancel_button.setEnabled(False)

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        return self.runner.start(
            denoise_enhance,
            images,
            **params,
            on_result=on_result,
            desc="denoise",
            on_finish=on_finish,
        )
