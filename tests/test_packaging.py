"""The root napari.yaml is the manifest napari loads, editable and in a built wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from npe2 import PluginManifest

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_is_valid_and_importable():
    pm = PluginManifest.from_file(ROOT / "napari.yaml")
    assert pm.name == "napari-xray-synth"
    pm.validate_imports()  # every python_name resolves to a real object
    assert pm.contributions.readers and pm.contributions.widgets


def test_installed_package_finds_the_manifest():
    pm = PluginManifest.from_distribution("napari-xray-synth")
    assert pm.name == "napari-xray-synth"


@pytest.mark.slow
def test_wheel_carries_the_manifest_and_models(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("napari_xray_synth-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "napari_xray_synth/napari.yaml" in names
        assert names.count("napari_xray_synth/napari.yaml") == 1
        assert any(n.startswith("napari_xray_synth/models/") for n in names)
        manifest = zf.read("napari_xray_synth/napari.yaml")
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert b"napari_xray_synth:napari.yaml" in zf.read(entry_points)
    (tmp_path / "napari.yaml").write_bytes(manifest)
    assert PluginManifest.from_file(tmp_path / "napari.yaml").name == "napari-xray-synth"
