"""Rule 1 of the design: importing the core loads no Qt, no napari and no magicgui."""

import json
import subprocess
import sys

FORBIDDEN = (
    "napari",
    "magicgui",
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "superqt",
    "vispy",
)


def test_core_imports_no_gui():
    code = (
        "import sys, json, pkgutil, importlib\n"
        "import napari_xray_synth.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, core.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "import napari_xray_synth.cli\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"core or cli pulled in GUI modules: {bad[:10]}"
