"""Take a screenshot of napari with the plugin's widgets docked (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py docs/images/screenshot.png

It opens a sample from the plugin (a simulated chest with a nodule when the simulator is there,
else the file given with --image), docks every widget of the manifest, and saves the window.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import napari
from npe2 import PluginManifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--sample", default="nodule")
    parser.add_argument("--widgets", nargs="*", default=None, help="display names to dock")
    args = parser.parse_args()

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    if args.image:
        viewer.open(str(args.image), plugin="napari-xray-synth")
    else:
        viewer.open_sample("napari-xray-synth", args.sample)
    pm = PluginManifest.from_distribution("napari-xray-synth")
    names = args.widgets or [w.display_name for w in pm.contributions.widgets or []]
    for name in names:
        viewer.window.add_plugin_dock_widget("napari-xray-synth", name)
    napari.qt.get_qapp().processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main()
