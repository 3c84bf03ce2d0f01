"""A scrolling body for the dock widgets, so that all six fit one screen when docked together.

napari stacks dock widgets in one column and the window can get no shorter than the sum of
their minimum heights. Each widget puts its controls in a :class:`ScrollBody`. While the screen
has room for all the bodies open in its window, a body asks for its whole form as its minimum:
napari's dock layout gives a new dock no more than its minimum when an older one holds the
column's height, which hid a second widget's buttons. With more bodies it asks for its share
of the screen, at least a few rows, and scrolls: all six docked need about 1010 px (2240 px
without scrolling).
"""

from __future__ import annotations

from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

MIN_ROWS = 8  # text lines a squeezed widget still shows
#: Screen height (px) the window keeps for napari's menu and status bars and the title bars.
RESERVED_PX = 250
DOCK_TITLE_PX = 25


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
        """The content's full size, within this body's share of the screen (QScrollArea's
        own hint is capped at 24 text lines)."""
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self._bar_width(), min(hint.height(), self._room()))

    def minimumSizeHint(self) -> QSize:
        """As wide as the content needs (nothing is cut off sideways); as high as it needs
        while the screen holds every open body, else its share of the screen, at least a few
        rows."""
        width = self.widget().minimumSizeHint().width() + self._bar_width()
        return QSize(width, min(self.widget().sizeHint().height(), self._room()))

    def _room(self) -> int:
        """This body's share of the screen, at least a few rows."""
        return max(MIN_ROWS * self.fontMetrics().height(), self._share())

    def _siblings(self) -> list[ScrollBody]:
        # not hidden: a closed dock is; a dock in a window not yet shown is not
        return [b for b in self.window().findChildren(ScrollBody) if not b.isHidden() or b is self]

    def _share(self) -> int:
        screen = self.screen()
        if screen is None:
            return 0
        n = len(self._siblings())
        room = screen.availableGeometry().height() - RESERVED_PX - n * DOCK_TITLE_PX
        return max(room // max(n, 1), 0)


def scrolling_layout(widget: QWidget) -> QVBoxLayout:
    """Give ``widget`` a :class:`ScrollBody` and return the layout to put its controls in."""
    content = QWidget()
    inner = QVBoxLayout(content)
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(ScrollBody(content))
    return inner
