"""The "Reader study" dock widget: blinded real-or-synthetic reading, one image at a time.

Keys (on the viewer canvas and in this widget, while a study runs): R = real, S = synthetic,
1 to 5 = realism score. An answer is recorded as soon as both a call and a score are given,
in either order; until then either can be changed. Nothing that could identify an image (file
name, folder, metadata) is shown: the one image layer is called "study image", and every image
is shown as uint8 0..255 (``core.reader_study.blind_pixels``), whatever its file held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.layers import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io import read_radiograph
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM
from napari_xray_synth.core.reader_study import (
    REALISM,
    SHOWN_MAX,
    ReaderStudy,
    blind_pixels,
    format_summary,
)
from napari_xray_synth.plugin.widgets.scroll import scrolling_layout
from napari_xray_synth.plugin.workers import notify_error

LAYER_NAME = "study image"
SHOWN_RANGE = (0, SHOWN_MAX)
ANSWER_KEYS = {"R": "real", "S": "synthetic"}
QT_KEYS = {
    Qt.Key.Key_R: ("answer", "real"),
    Qt.Key.Key_S: ("answer", "synthetic"),
    **{getattr(Qt.Key, f"Key_{n}"): ("realism", n) for n in REALISM},
}


class ReaderStudyWidget(QWidget):
    """Run a blinded reader study in the viewer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer the study images are shown in.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.study: ReaderStudy | None = None
        self.layer: Image | None = None
        self.pending_answer: str | None = None
        self.pending_realism: int | None = None
        self._bound: dict[Any, list[tuple[str, Any]]] = {}
        # the user's layers hidden while a study runs, shown again when it ends or stops
        self._hidden: list[Any] = []
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder with real/ and synthetic/ or truth.csv")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("reader name or code")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.start_button = QPushButton("Start / resume")
        self.start_button.clicked.connect(self.start)
        form = QFormLayout()
        form.addRow("study folder", row)
        form.addRow("reader", self.reader)
        form.addRow("order seed", self.seed)
        self._setup = [self.folder, browse, self.reader, self.seed, self.start_button]

        self.progress = QLabel("– / –")
        self.choice = QLabel("")
        self.real_button = QPushButton("Real (R)")
        self.synthetic_button = QPushButton("Synthetic (S)")
        self.real_button.clicked.connect(lambda: self.give("answer", "real"))
        self.synthetic_button.clicked.connect(lambda: self.give("answer", "synthetic"))
        calls = QHBoxLayout()
        calls.addWidget(self.real_button)
        calls.addWidget(self.synthetic_button)
        scores = QHBoxLayout()
        self.score_buttons = []
        for n in REALISM:
            b = QPushButton(str(n))
            b.setToolTip("realism: 1 = clearly artificial, 5 = indistinguishable from real")
            b.clicked.connect(lambda _=False, n=n: self.give("realism", n))
            scores.addWidget(b)
            self.score_buttons.append(b)
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._answer_widgets = [self.real_button, self.synthetic_button, *self.score_buttons]
        for b in self._answer_widgets:
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the widget or canvas

        layout = scrolling_layout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addLayout(calls)
        layout.addWidget(QLabel("realism (1 = artificial … 5 = real)"))
        layout.addLayout(scores)
        layout.addWidget(self.choice)
        layout.addWidget(self.summary)
        self._set_running(False)

    # ----- set-up ---------------------------------------------------------------------------
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Study folder")
        if path:
            self.folder.setText(path)

    def _set_running(self, running: bool) -> None:
        for w in self._setup:
            w.setEnabled(not running)
        for w in self._answer_widgets:
            w.setEnabled(running)

    def start(self) -> None:
        """Open the study (resuming this reader's answers) and show the first unanswered image."""
        try:
            study = ReaderStudy(self.folder.text().strip(), self.reader.text(), self.seed.value())
        except InputError as exc:
            notify_error(exc, "reader study")
            return
        self.study = study
        if self.layer is None:
            # a layer left by a session that stopped half-way is reused, never duplicated
            left = [lay for lay in self.viewer.layers if lay.name == LAYER_NAME]
            self.layer = left[0] if left and isinstance(left[0], Image) else None
        self.summary.setPlainText("")
        self._hide_others()
        self._bind_keys()
        self._set_running(True)
        self.setFocus()
        self._show_current()

    def _hide_others(self) -> None:
        """Hide the user's other layers: a larger film beneath would show around the study image
        (and its size and name give the study image's away)."""
        for layer in self.viewer.layers:
            if layer is not self.layer and layer.name != LAYER_NAME and layer.visible:
                layer.visible = False
                self._hidden.append(layer)

    def restore_layers(self) -> None:
        """Show again the layers the study hid (those still open), as they were before it."""
        for layer in self._hidden:
            if layer in self.viewer.layers:
                layer.visible = True
        self._hidden = []

    # ----- keys -----------------------------------------------------------------------------
    def _key_handlers(self) -> list[tuple[str, Any]]:
        pairs: list[tuple[str, Any]] = [
            (key, lambda _src, v=value: self.give("answer", v))
            for key, value in ANSWER_KEYS.items()
        ]
        pairs += [(str(n), lambda _src, n=n: self.give("realism", n)) for n in REALISM]
        return pairs

    def _bind(self, provider: Any) -> None:
        if provider in self._bound:
            return
        saved = []
        for key, func in self._key_handlers():
            previous = provider.bind_key(key, func, overwrite=True)
            saved.append((key, previous))
        self._bound[provider] = saved

    def _bind_keys(self) -> None:
        # the viewer keymap, and the study layer's own keymap: the active layer's bindings come
        # first in napari (an image layer takes 1 and 2 for its modes)
        self._bind(self.viewer)
        if self.layer is not None:
            self._bind(self.layer)

    def unbind_keys(self) -> None:
        """Give the keys back (restoring what they did before the study)."""
        for provider, saved in self._bound.items():
            for key, previous in saved:
                provider.bind_key(key, previous, overwrite=True)
        self._bound = {}

    def keyPressEvent(self, event: Any) -> None:
        """The same keys when the widget itself has the focus."""
        action = QT_KEYS.get(event.key())
        if action is not None and self.study is not None and not self.study.finished:
            self.give(*action)
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: Any) -> None:
        """Unbind the keys and show the hidden layers again when the widget closes."""
        self.unbind_keys()
        self.restore_layers()
        super().closeEvent(event)

    def hideEvent(self, event: Any) -> None:
        """Unbind the keys while the widget is hidden or removed from the viewer."""
        self.unbind_keys()
        super().hideEvent(event)

    def showEvent(self, event: Any) -> None:
        """Bind the keys again when the widget shows during a study."""
        if self.study is not None and not self.study.finished:
            self._bind_keys()
        super().showEvent(event)

    # ----- answering ------------------------------------------------------------------------
    def give(self, kind: str, value: Any) -> None:
        """Take a call ("answer": real/synthetic) or a score ("realism": 1-5); record when both."""
        if self.study is None or self.study.finished:
            return
        if kind == "answer":
            self.pending_answer = str(value)
        else:
            self.pending_realism = int(value)
        if self.pending_answer is not None and self.pending_realism is not None:
            try:
                self.study.answer(self.pending_answer, self.pending_realism)
            except InputError as exc:
                notify_error(exc, "reader study")
                return
            self.pending_answer = self.pending_realism = None
            self._show_current()
        else:
            self._show_choice()

    def _show_choice(self) -> None:
        call = self.pending_answer or "R / S ?"
        score = self.pending_realism or "1–5 ?"
        self.choice.setText(f"your answer: {call}, realism {score}")

    def _show_current(self) -> None:
        assert self.study is not None
        self.progress.setText(f"{self.study.done} / {self.study.total}")
        item = self.study.current()
        if item is None:
            self._finish()
            return
        try:
            img = read_radiograph(item.path).display()
        except InputError as exc:
            # the usual message names the file, which would unblind the reader: say which
            # position failed instead (the answers CSV and the folder tell the organiser)
            notify_error(
                InputError(f"study image {self.study.done + 1} cannot be read ({exc.reason})"),
                "reader study",
            )
            self.unbind_keys()
            self.restore_layers()
            self._set_running(False)
            return
        # every image on one grid, uint8 0..255 (contrast at its min-max, as before): neither
        # hovering nor the histogram tells an 8-bit source from a float one
        position = self.study.items.index(item)
        img = blind_pixels(img, (self.study.seed, position))
        self._show_choice()
        if self.layer is None or self.layer not in self.viewer.layers:
            # every image at one pixel size, in mm as the plugin's other layers: a film's own
            # size would tell sources apart, and pixels beside mm make napari warn on every layer
            self.layer = self.viewer.add_image(
                img,
                name=LAYER_NAME,
                colormap="gray",
                metadata={},
                scale=(ASSUMED_SPACING_MM, ASSUMED_SPACING_MM),
                units="mm",
            )
            self._bind(self.layer)
            self.viewer.reset_view()
        else:
            reshaped = self.layer.data.shape != img.shape
            self.layer.data = img
            if reshaped:
                self.viewer.reset_view()
        self.layer.contrast_limits_range = SHOWN_RANGE
        self.layer.contrast_limits = SHOWN_RANGE
        self.viewer.layers.selection.active = self.layer

    def _finish(self) -> None:
        assert self.study is not None
        self.unbind_keys()
        self._set_running(False)
        if self.layer is not None and self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)
        self.layer = None
        self.restore_layers()
        self.choice.setText("study finished: thank you")
        self.summary.setPlainText(format_summary(self.study.results()))

    @property
    def answers_path(self) -> Path | None:
        """Where the answers are written (None before a study starts)."""
        return None if self.study is None else self.study.answers_path
