"""The "Compare" dock widget: SSIM, PSNR and RMSE of two image layers, and a difference overlay."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSlider, Label
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_warning
from qtpy.QtCore import QTimer

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.metrics import compare
from napari_xray_synth.plugin.layers import META_KEY, grid_metadata, layer_grid
from napari_xray_synth.plugin.widgets.scroll import ScrollBody
from napari_xray_synth.plugin.workers import notify_error, run_synchronously

OVERLAY_NAME = "compare map"
DEBOUNCE_MS = 150
MAP_CHOICES = {"1 - SSIM": "1-ssim", "|A - B|": "absdiff"}


def _fmt(v: float | None, fmt: str) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return fmt.format(v)


def format_result(res: dict[str, Any]) -> str:
    """The figures of :func:`core.metrics.compare` as a small table (one row per region)."""
    lines = [f"{'':<15}{'SSIM':>8}{'PSNR dB':>9}{'RMSE':>9}"]
    regions = [("whole image", "")]
    regions += [
        (f"{region} lesion", f"_{region}")
        for region in ("inside", "outside")
        if f"ssim_{region}" in res
    ]
    for title, key in regions:
        lines.append(
            f"{title:<15}{_fmt(res['ssim' + key], '{:.4f}'):>8}"
            f"{_fmt(res['psnr' + key], '{:.2f}'):>9}{_fmt(res['rmse' + key], '{:.4f}'):>9}"
        )
    for region in ("inside", "outside"):
        if f"n_{region}" in res:
            lines.append(f"{region} lesion: {res[f'n_{region}']} px")
    return "\n".join(lines)


def viewer_grid(viewer: Any) -> Any:
    """The grid settings: ``viewer.canvas.grid`` since napari 0.9, ``viewer.grid`` before."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def _scale_text(scale: Any) -> str:
    """A layer's pixel size for a message: "0.168 x 0.168"."""
    return " x ".join(f"{float(v):g}" for v in np.asarray(scale)[-2:])


def overlay_metadata(map_kind: str, a_layer: Any, b_layer: Any) -> dict[str, Any]:
    """The overlay layer's metadata: what the map holds, of which layers, on whose grid (A's).

    The Radiograph widget shows it as the overlay's header; it is rewritten whenever the map,
    A or B changes, together with the layer's name.
    """
    grid = grid_metadata(a_layer)
    grid["spacing_source"] = f"layer {a_layer.name!r}: {grid['spacing_source']}"
    compared = {"map_kind": map_kind, "a": a_layer.name, "b": getattr(b_layer, "name", None)}
    return {META_KEY: {"compare": compared, **grid}}


def _plane_shape(layer: Any) -> tuple[int, ...] | None:
    """A layer's image shape when it is one 2-D greyscale image, else None."""
    if getattr(layer, "rgb", False):
        return None
    shape = tuple(np.shape(layer.data))
    return shape if len(shape) == 2 else None


def _synthetic(layer: Any) -> bool:
    return bool(dict(getattr(layer, "metadata", {}) or {}).get(META_KEY, {}).get("synthetic"))


def pick_partner(layer: Any, images: list[Any]) -> Any | None:
    """The first of ``images`` (top-most first) other than ``layer`` with its 2-D shape,
    preferring a film to a synthetic variant (a variant is compared with its source)."""
    shape = _plane_shape(layer)
    if shape is None:
        return None
    same = [lay for lay in images if lay is not layer and _plane_shape(lay) == shape]
    films = [lay for lay in same if not _synthetic(lay)]
    return (films or same or [None])[0]


def pick_pair(images: list[Any]) -> tuple[Any | None, Any | None]:
    """A and B to compare when the user has chosen neither: the top-most layer that has a
    partner of its shape (see :func:`pick_partner`) and that partner; else the top-most
    comparable layer and None."""
    comparable = [lay for lay in images if _plane_shape(lay) is not None]
    for layer in comparable:
        partner = pick_partner(layer, comparable)
        if partner is not None:
            return layer, partner
    return (comparable[0] if comparable else None), None


class CompareWidget(Container):
    """Compare image A (a variant, a denoised image) with image B (its source).

    Shows SSIM, PSNR and RMSE for the whole image and, with a lesion Labels layer, inside and
    outside the lesion. One overlay layer holds 1 - SSIM (bright = different) or |A - B|, in
    inferno with additive blending, on A's scale; it follows the layers' data (debounced).

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are compared.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self.margins = (0, 0, 0, 0)
        self.viewer = napari_viewer
        self.overlay: Image | None = None
        self.layer_a = ComboBox(label="A (variant)", choices=self._image_choices, nullable=True)
        self.layer_b = ComboBox(label="B (source)", choices=self._image_choices, nullable=True)
        self.lesion = ComboBox(label="lesion labels", choices=self._label_choices, nullable=True)
        # a combo box, not radio buttons: a crowded dock squeezes a button group to nothing
        self.map_kind = ComboBox(label="overlay", choices=list(MAP_CHOICES), value="1 - SSIM")
        self.opacity = FloatSlider(label="opacity", min=0.0, max=1.0, step=0.05, value=0.6)
        self.side_by_side = CheckBox(text="side by side (grid view)", value=False)
        self.values = Label(value="choose two image layers")
        # a fixed-width table that neither wraps nor squeezes the controls above it
        self.values.native.setStyleSheet("font-family: monospace;")
        self.values.native.setMinimumHeight(110)
        self.values.native.setMinimumWidth(330)
        # the controls live in a form in a scroll body (see plugin.widgets.scroll); napari docks
        # this container's native widget, not magicgui's own scroll area
        self.form = Container(labels=True)
        self.form.extend(
            [
                self.layer_a,
                self.layer_b,
                self.lesion,
                self.map_kind,
                self.opacity,
                self.side_by_side,
                self.values,
            ]
        )
        self.form.native.layout().addStretch(1)
        self.native.layout().addWidget(ScrollBody(self.form.native))
        self.last_result: dict[str, Any] | None = None
        self.last_update_s: float | None = None
        self._scale_note = ""
        self._watched: list[Any] = []
        self._overlay_was_visible = True

        self._timer = QTimer(self.native)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._on_timer)
        self._worker: Any = None
        self._pending = False
        self._warned_scales: tuple[Any, ...] | None = None
        # the layers _auto_pick put in A and B (by the combo's id): a value other than these is
        # the user's own choice, which is kept
        self._auto: dict[int, Any] = {}

        for combo in (self.layer_a, self.layer_b, self.lesion):
            combo.changed.connect(self._on_selection)
        self.map_kind.changed.connect(self.schedule)
        self.opacity.changed.connect(self._on_opacity)
        self.side_by_side.changed.connect(self._on_grid)
        events = self.viewer.layers.events
        for ev in (events.inserted, events.removed, events.reordered):
            ev.connect(self._reset)
        self.native.destroyed.connect(self._disconnect_all)
        self._reset()

    def reset_choices(self, *_args: Any) -> None:
        """Refresh the layer choices (napari calls this when the layer list changes)."""
        self.form.reset_choices()

    def _disconnect_all(self, *_args: Any) -> None:
        """Stop listening to the viewer and layers once the Qt widget is gone."""
        self._unwatch()
        events = self.viewer.layers.events
        for ev in (events.inserted, events.removed, events.reordered):
            ev.disconnect(self._reset)

    # ----- choices --------------------------------------------------------------------------
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, Image) and layer is not self.overlay
        ]

    def _label_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Labels)]

    def _reset(self, event: Any = None) -> None:
        if getattr(event, "value", None) is not None and event.value is self.overlay:
            if event.type == "removed":
                self.overlay = None
            return
        self.reset_choices()
        self._auto_pick()

    def _user_picked(self, combo: ComboBox) -> bool:
        """True when the combo holds a layer the user chose (not one :meth:`_auto_pick` set)."""
        return combo.value is not None and combo.value is not self._auto.get(id(combo))

    def _set_auto(self, combo: ComboBox, layer: Any) -> None:
        self._auto[id(combo)] = layer
        combo.value = layer

    def _auto_pick(self) -> None:
        """Fill an empty A or B with a layer that can be compared with the other.

        Nobody asked for this comparison, so only a pair of one shape is picked (the top-most
        such pair, B a film rather than another variant); with none, B stays empty and the
        values label says why. A pair that is complete, or a layer the user chose, is kept.
        """
        a, b = self.layer_a.value, self.layer_b.value
        if a is not None and b is not None:
            return
        images = list(reversed([lay for _, lay in self._image_choices()]))  # top-most first
        if self._user_picked(self.layer_a) or self._user_picked(self.layer_b):
            combo, chosen = (self.layer_b, a) if a is not None else (self.layer_a, b)
            partner = pick_partner(chosen, images)
            if partner is not None:
                self._set_auto(combo, partner)
            return
        pick_a, pick_b = pick_pair(images)
        if pick_b is None:
            if a is None and pick_a is not None:
                self._set_auto(self.layer_a, pick_a)
            return
        self._set_auto(self.layer_a, pick_a)
        self._set_auto(self.layer_b, pick_b)

    # ----- watching the layers --------------------------------------------------------------
    def _unwatch(self) -> None:
        for layer, callback in self._watched:
            for name in ("data", "paint", "scale"):
                ev = getattr(layer.events, name, None)
                if ev is not None:
                    ev.disconnect(callback)
        self._watched = []

    def _on_selection(self, _value: Any = None) -> None:
        self._unwatch()
        for layer in (self.layer_a.value, self.layer_b.value, self.lesion.value):
            if layer is None:
                continue
            for name in ("data", "paint", "scale"):
                ev = getattr(layer.events, name, None)
                if ev is not None:
                    ev.connect(self.schedule)
            self._watched.append((layer, self.schedule))
        self.schedule()

    def schedule(self, _event: Any = None) -> None:
        """Ask for an update after a short quiet period (edits in a row give one update)."""
        try:
            self._timer.start()
        except RuntimeError:  # the Qt widget is already deleted (viewer closing)
            self._disconnect_all()

    # ----- the update -----------------------------------------------------------------------
    def _inputs(
        self, notify: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str] | None:
        """The arrays to compare, checked; None when they cannot be compared.

        Why not is written in the values label; with ``notify`` (an explicit
        :meth:`refresh`) it is also a notification. The live updates, which run for pairs
        nobody asked to compare (picked automatically, or a layer's metadata changed), stay
        quiet: the label is where the user looks for the figures.
        """
        a_layer, b_layer = self.layer_a.value, self.layer_b.value
        if a_layer is None or b_layer is None:
            self.values.value = self._missing_text(a_layer, b_layer)
            return None
        try:
            a = self._plane(a_layer)
            b = self._plane(b_layer)
            if a.shape != b.shape:
                raise InputError(
                    f"layer {a_layer.name!r} is {a.shape[0]} x {a.shape[1]} but layer "
                    f"{b_layer.name!r} is {b.shape[0]} x {b.shape[1]}: resample one to compare"
                )
            mask = None
            if self.lesion.value is not None:
                mask = np.asarray(self.lesion.value.data)
                if mask.shape != a.shape:
                    raise InputError(
                        f"is {' x '.join(map(str, mask.shape))} but the images are "
                        f"{a.shape[0]} x {a.shape[1]}",
                        f"labels layer {self.lesion.value.name!r}",
                    )
        except InputError as exc:
            self._fail(exc, notify)
            return None
        pair = (id(a_layer), id(b_layer), tuple(a_layer.scale), tuple(b_layer.scale))
        scales_differ = not np.allclose(
            np.asarray(a_layer.scale)[-2:], np.asarray(b_layer.scale)[-2:]
        )
        self._scale_note = ""
        if scales_differ:
            self._scale_note = (
                f"layers {a_layer.name!r} and {b_layer.name!r} have different scales "
                f"({_scale_text(a_layer.scale)} and {_scale_text(b_layer.scale)}): compared "
                "pixel by pixel"
            )
            if notify and pair != self._warned_scales:
                self._warned_scales = pair  # once per pair, not on every edit
                show_warning(self._scale_note)
        return a, b, mask, MAP_CHOICES[self.map_kind.value]

    def _missing_text(self, a_layer: Any, b_layer: Any) -> str:
        """What the values label says while A or B is empty: why, when no layer would do."""
        chosen = a_layer if a_layer is not None else b_layer
        images = [lay for _, lay in self._image_choices() if lay is not chosen]
        shape = None if chosen is None else _plane_shape(chosen)
        if shape is None or not images or pick_partner(chosen, images) is not None:
            return "choose two image layers"
        return (
            f"choose {'B' if a_layer is not None else 'A'}: no other image layer is "
            f"{shape[0]} x {shape[1]} like {chosen.name!r} (compare needs two images of one "
            "size)"
        )

    def _fail(self, exc: BaseException, notify: bool = True) -> None:
        self.values.value = f"cannot compare: {exc}"
        self.last_result = None
        if notify:
            notify_error(exc, "compare")

    def _apply(self, res: dict[str, Any], t0: float) -> dict[str, Any] | None:
        a_layer = self.layer_a.value
        if a_layer is None:
            return None
        self._show_overlay(res, a_layer)
        self.values.value = format_result(res) + (
            f"\nnote: {self._scale_note}" if self._scale_note else ""
        )
        self.last_result = {k: v for k, v in res.items() if k != "map"}
        self.last_update_s = time.perf_counter() - t0
        return self.last_result

    def refresh(self, notify: bool = True) -> dict[str, Any] | None:
        """Compute the figures and the overlay now, in this thread; returns the figures.

        Parameters
        ----------
        notify : bool
            Also say in a notification why A and B cannot be compared (the values label
            always says it); the live updates pass False.
        """
        self._timer.stop()
        t0 = time.perf_counter()
        inputs = self._inputs(notify)
        if inputs is None:
            return None
        a, b, mask, kind = inputs
        try:
            res = compare(a, b, mask=mask, data_range=None, map_kind=kind)
        except InputError as exc:
            self._fail(exc, notify)
            return None
        return self._apply(res, t0)

    def _on_timer(self) -> None:
        """The debounced update: in a worker thread, so that painting and typing stay smooth."""
        if run_synchronously():
            self.refresh(notify=False)
            return
        if self._worker is not None:
            self._pending = True  # one more pass when the running one ends
            return
        t0 = time.perf_counter()
        inputs = self._inputs(notify=False)
        if inputs is None:
            return
        a, b, mask, kind = inputs
        # copies: a labels layer is painted in place while the worker reads it
        a, b = a.copy(), b.copy()
        mask = None if mask is None else mask != 0

        @thread_worker
        def work() -> dict[str, Any]:
            return compare(a, b, mask=mask, data_range=None, map_kind=kind)

        worker = work()
        worker.returned.connect(lambda res: self._apply(res, t0))
        # a live update: input errors go to the label only, as in _inputs
        worker.errored.connect(lambda exc: self._fail(exc, not isinstance(exc, InputError)))
        worker.finished.connect(self._worker_done)
        self._worker = worker
        worker.start()

    def _worker_done(self) -> None:
        self._worker = None
        if self._pending:
            self._pending = False
            self.schedule()

    @staticmethod
    def _plane(layer: Any) -> np.ndarray:
        if getattr(layer, "rgb", False):
            raise InputError("is an RGB image; compare needs greyscale", f"layer {layer.name!r}")
        data = np.asarray(layer.data)
        if data.ndim != 2:
            raise InputError(
                f"holds {data.ndim}-D data; compare needs one 2-D image", f"layer {layer.name!r}"
            )
        return data

    def _show_overlay(self, res: dict[str, Any], a_layer: Any) -> None:
        data = res["map"]
        if res["map_kind"] == "absdiff":
            hi = float(data.max())
            limits = (0.0, hi if hi > 0 else res["data_range"])
            name = f"{OVERLAY_NAME}: |A - B|"
        else:
            limits = (0.0, 1.0)
            name = f"{OVERLAY_NAME}: 1 - SSIM"
        meta = overlay_metadata(res["map_kind"], a_layer, self.layer_b.value)
        if self.overlay is None or self.overlay not in self.viewer.layers:
            self.overlay = self.viewer.add_image(
                data,
                name=name,
                colormap="inferno",
                blending="additive",
                opacity=self.opacity.value,
                contrast_limits=limits,
                **layer_grid(a_layer),
                metadata=meta,
            )
            self.reset_choices()
        else:
            ov = self.overlay
            ov.data = data
            ov.contrast_limits = limits
            # only what changed: every assignment below refreshes the layer
            if not np.array_equal(ov.scale, a_layer.scale):
                ov.scale = a_layer.scale
            if not np.array_equal(ov.translate, a_layer.translate):
                ov.translate = a_layer.translate
            # the metadata first: a header refreshed on the rename then reads the new one
            if ov.metadata != meta:
                ov.metadata = meta
            if ov.name != name:
                ov.name = name
        if self.side_by_side.value:
            self.overlay.visible = False

    # ----- display controls -----------------------------------------------------------------
    def _on_opacity(self, value: float) -> None:
        if self.overlay is not None:
            self.overlay.opacity = float(value)

    def _on_grid(self, on: bool) -> None:
        """Grid view shows the layers side by side; the overlay is hidden meanwhile."""
        viewer_grid(self.viewer).enabled = bool(on)
        if self.overlay is not None and self.overlay in self.viewer.layers:
            if on:
                self._overlay_was_visible = self.overlay.visible
                self.overlay.visible = False
            else:
                self.overlay.visible = self._overlay_was_visible
