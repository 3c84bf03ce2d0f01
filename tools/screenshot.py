"""Take a screenshot of napari with the plugin at work (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py OUT.png

The scene: a simulated chest (the plugin's sample data), a GAN variant with a nodule made by the
Synthesize widget's core call, its mask, and the Compare widget showing the 1 - SSIM overlay of
the variant against its source. ``--image FILE`` uses a file of yours instead of the sample;
``--no-compare`` leaves the Compare widget out, so that the variant itself is seen.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("XRAY_SYNTH_SYNC", "1")  # the Compare widget updates before the picture

import napari

from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.synthesize import synthesize
from napari_xray_synth.plugin.layers import (
    image_layer_tuple,
    labels_layer_tuple,
    radiograph_from_layer,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--at", default="560,640", help="lesion centre ROW,COL")
    parser.add_argument("--size-mm", type=float, default=22.0)
    parser.add_argument("--pathology", default="nodule", help="which lesion to put in")
    parser.add_argument(
        "--no-compare", action="store_true", help="leave the Compare widget and its overlay out"
    )
    args = parser.parse_args()

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    if args.image:
        (source,) = viewer.open(str(args.image), plugin="napari-xray-synth")
    else:
        source = viewer.open_sample("napari-xray-synth", "chest_healthy")[0]
    rg = radiograph_from_layer(source)
    row, col = (float(v) for v in args.at.split(","))
    p = args.pathology
    margin = "lobulated" if p in ("nodule", "mass") else "smooth"
    cond = Condition(p, (row, col), args.size_mm, 0.9, margin=margin)
    (var,) = synthesize(rg, [cond], n_variants=1, seed=3, method="gan", regions="lung")
    data, kw, _ = image_layer_tuple(var.radiograph, f"{source.name} {p} v0")
    viewer.add_image(data, **kw)
    data, kw, _ = labels_layer_tuple(var.mask, f"{source.name} {p} mask", rg.spacing)
    mask_layer = viewer.add_labels(data, **kw)
    mask_layer.contour = 2
    viewer.window.add_plugin_dock_widget("napari-xray-synth", "Synthesize")
    if not args.no_compare:
        _, compare = viewer.window.add_plugin_dock_widget("napari-xray-synth", "Compare")
        compare.layer_a.value = viewer.layers[f"{source.name} {p} v0"]
        compare.layer_b.value = source
        compare.lesion.value = mask_layer
    napari.qt.get_qapp().processEvents()
    r0, c0 = row * (rg.spacing or (1, 1))[0], col * (rg.spacing or (1, 1))[1]
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    camera.center = (r0, c0)
    camera.zoom *= 2.2
    napari.qt.get_qapp().processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main()
