"""The dock widgets docked together: whole forms while the screen holds them, then scrolling."""

from __future__ import annotations

from pathlib import Path

import pytest
from npe2 import PluginManifest

from napari_xray_synth.plugin.widgets.scroll import DOCK_TITLE_PX, MIN_ROWS, RESERVED_PX, ScrollBody

pytestmark = pytest.mark.qt

SCREEN_HEIGHT = 1200
# the window manager's title bar and a task bar or top panel
DESKTOP_CHROME = 100


def _widget_names() -> list[str]:
    manifest = PluginManifest.from_file(Path(__file__).resolve().parents[1] / "napari.yaml")
    return [w.display_name for w in manifest.contributions.widgets or []]


def test_docked_widgets_ask_for_their_whole_form_while_the_screen_holds_them(make_napari_viewer):
    names = _widget_names()
    assert len(names) == 6
    viewer = make_napari_viewer()
    screen_h = viewer.window._qt_window.screen().availableGeometry().height()
    first, second = (
        viewer.window.add_plugin_dock_widget("napari-xray-synth", n)[0].findChild(ScrollBody)
        for n in ("Radiograph", "Synthesize")
    )
    for body in (first, second):
        assert body is not None
        body.show()
    # two docks: each asks for its whole form as its minimum (a second dock squeezed to its
    # minimum had hidden its buttons), or for half the screen where that is less
    for body in (first, second):
        whole = body.widget().sizeHint().height()
        half = (screen_h - RESERVED_PX - 2 * DOCK_TITLE_PX) // 2
        rows = MIN_ROWS * body.fontMetrics().height()
        assert body.minimumSizeHint().height() == min(whole, max(rows, half))
    # six: each new one asks for its sixth of the screen, at least a few rows, and scrolls
    docks = [viewer.window.add_plugin_dock_widget("napari-xray-synth", n)[0] for n in names[2:]]
    last = docks[-1].findChild(ScrollBody)
    last.show()
    sixth = (screen_h - RESERVED_PX - 6 * DOCK_TITLE_PX) // 6
    rows = MIN_ROWS * last.fontMetrics().height()
    assert last.minimumSizeHint().height() == min(
        last.widget().sizeHint().height(), max(rows, sixth)
    )
    assert last.minimumSizeHint().height() < last.widget().sizeHint().height() or screen_h > 2000
