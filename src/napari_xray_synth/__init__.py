"""napari-xray-synth: X-ray radiographs in napari on a headless model core."""

__version__ = "0.1.0"

__all__ = ["__version__"]
