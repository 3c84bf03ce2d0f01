"""A scrolling body for the dock widgets, so that all six fit one screen when docked together.

napari stacks dock widgets in one column and the window can get no shorter than the sum of
their minimum heights. Each widget puts its controls in a :class:`ScrollBody`: alone it asks for
its whole height (no scroll bar), in a crowded column it can shrink to a few rows and scroll.
"""

from __future__ import annotations

from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

MIN_ROWS = 8  # text lines a squeezed widget still shows


class ScrollBody(QScrollArea):
    """A frameless vertical scroll area around ``content``.

    Parameters
    ----------
    content : QWidget
        The controls; it is as wide as the area and scrolls vertically.
    """

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # key presses go on to the widget
        self.setWidget(content)

    def _bar_width(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def sizeHint(self) -> QSize:
        """The content's full size (QScrollArea's own hint is capped at 24 text lines)."""
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self._bar_width(), hint.height())

    def minimumSizeHint(self) -> QSize:
        """As wide as the content needs (nothing is cut off sideways), a few rows high."""
        hint = self.widget().minimumSizeHint()
        rows = MIN_ROWS * self.fontMetrics().height()
        return QSize(hint.width() + self._bar_width(), min(hint.height(), rows))


def scrolling_layout(widget: QWidget) -> QVBoxLayout:
    """Give ``widget`` a :class:`ScrollBody` and return the layout to put its controls in."""
    content = QWidget()
    inner = QVBoxLayout(content)
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(ScrollBody(content))
    return inner
