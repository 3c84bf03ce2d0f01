"""All of the plugin's dock widgets docked at once (Plugins menu) fit a 1920 x 1200 screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from npe2 import PluginManifest

from napari_xray_synth.plugin.widgets.scroll import MIN_ROWS, ScrollBody

pytestmark = pytest.mark.qt

SCREEN_HEIGHT = 1200
# the window manager's title bar and a task bar or top panel
DESKTOP_CHROME = 100


def _widget_names() -> list[str]:
    manifest = PluginManifest.from_file(Path(__file__).resolve().parents[1] / "napari.yaml")
    return [w.display_name for w in manifest.contributions.widgets or []]


def test_all_dock_widgets_fit_a_1200_px_screen(make_napari_viewer):
    names = _widget_names()
    assert len(names) == 6
    viewer = make_napari_viewer()
    docks = [viewer.window.add_plugin_dock_widget("napari-xray-synth", n)[0] for n in names]
    window = viewer.window._qt_window
    # before: each dock needed its whole form (110-160 px tables included), 2260 px in all
    assert window.minimumSizeHint().height() <= SCREEN_HEIGHT - DESKTOP_CHROME
    for dock in docks:
        body = dock.findChild(ScrollBody)
        assert body is not None, dock.name
        # squeezed, a dock still shows a few lines (and scrolls to the rest) ...
        assert dock.minimumSizeHint().height() >= MIN_ROWS * body.fontMetrics().height()
        # ... and with room it asks for the whole form, with no scroll bar
        assert body.sizeHint().height() >= body.widget().minimumSizeHint().height()
