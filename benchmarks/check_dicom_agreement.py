"""Agreement of ``read_radiograph(...).display()`` with pydicom's own display pipeline, and speed.

For every file in DIR (default ``../shared/data/dicom`` beside the repository):

- ours: ``read_radiograph(path)`` then ``.display(window)`` for every window of the file;
- pydicom: ``apply_modality_lut`` → ``apply_voi_lut`` (same window index) → MONOCHROME1
  inverted → scaled to [0, 1] by the output range of the step that ran last (the windowing's
  y range, the VOI LUT's bit depth, or the possible Modality LUT output range when no window);
- time: our full read (parse, decode, Modality LUT, units), median of 3, against pydicom's bare
  ``dcmread`` + ``ds.pixel_array``, median of 3.

A file we refuse shows our one-line error. Usage::

    python benchmarks/check_dicom_agreement.py [DIR]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ImplicitVRLittleEndian

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io import read_radiograph

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dicom"


def _pydicom_open(path: Path) -> pydicom.Dataset:
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds


def _possible_range(ds: pydicom.Dataset) -> tuple[float, float]:
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 1:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    if ds.get("ModalityLUTSequence"):
        table = np.asarray(ds.ModalityLUTSequence[0].LUTData, dtype=np.float64)
        return float(table.min()), float(table.max())
    ends = apply_modality_lut(np.array([lo, hi]), ds).astype(np.float64)
    return float(ends.min()), float(ends.max())


def pydicom_display(ds: pydicom.Dataset, arr: np.ndarray, index: int) -> np.ndarray:
    """pydicom's pipeline for window ``index`` (VOI LUT items first, as apply_voi_lut prefers)."""
    mod = apply_modality_lut(arr, ds)
    luts = ds.get("VOILUTSequence") or []
    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    if index < len(luts):
        out = apply_voi_lut(mod, ds, index=index).astype(np.float64)
        y0, y1 = 0.0, 2.0 ** int(luts[index].LUTDescriptor[2]) - 1
    elif has_window:
        sub = index - len(luts)
        out = pydicom.pixels.apply_windowing(mod, ds, index=sub)
        if ds.get("ModalityLUTSequence"):
            y0, y1 = 0.0, 2.0 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
        else:
            bits = int(ds.BitsStored)
            signed = int(ds.get("PixelRepresentation", 0)) == 1
            y0, y1 = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
            if "RescaleSlope" in ds and "RescaleIntercept" in ds:
                m, b = float(ds.RescaleSlope), float(ds.RescaleIntercept)
                y0, y1 = y0 * m + b, y1 * m + b
    else:
        out = mod.astype(np.float64)
        y0, y1 = _possible_range(ds)
    disp = (out - y0) / (y1 - y0)
    if str(ds.PhotometricInterpretation).strip() == "MONOCHROME1":
        disp = 1.0 - disp
    return disp


def _median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def check(path: Path) -> dict:
    """One row of the table."""
    row: dict = {"file": path.name}
    try:
        rg = read_radiograph(path)
    except InputError as exc:
        row["error"] = str(exc)
        return row
    ds = _pydicom_open(path)
    arr = ds.pixel_array
    n = max(len(rg.windows), 1)
    diffs = []
    for i in range(n):
        ours = rg.display(rg.windows[i] if rg.windows else None)
        ref = pydicom_display(ds, arr, i)
        diffs.append(float(np.abs(ours.astype(np.float64) - ref).max()))
    row.update(
        syntax=rg.header["transfer_syntax"],
        photometric=rg.header["photometric"],
        bits=rg.header.get("bits_stored"),
        size=f"{rg.shape[0]}x{rg.shape[1]}",
        windows=len(rg.windows),
        diff_default=diffs[0],
        diff_all=max(diffs),
        ours=_median_time(lambda: read_radiograph(path)),
        pydicom=_median_time(lambda: _pydicom_open(path).pixel_array),
    )
    return row


def main(argv: list[str]) -> int:
    """Print the agreement table for every file in the folder."""
    folder = Path(argv[0]) if argv else DEFAULT_DIR
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        print(f"no files in {folder}", file=sys.stderr)
        return 2
    head = (
        "| file | transfer syntax | photometric | bits | size | windows | max abs diff, "
        "default window | max abs diff, all windows | our read (ms) | pydicom decode (ms) | "
        "ratio |"
    )
    print(head)
    print("|---" * 11 + "|")
    for path in files:
        r = check(path)
        if "error" in r:
            print(f"| {r['file']} | refused: `{r['error']}` |" + " |" * 9)
            continue
        print(
            f"| {r['file'][:40]} | {r['syntax']} | {r['photometric']} | {r['bits']} | "
            f"{r['size']} | {r['windows']} | {r['diff_default']:.2e} | {r['diff_all']:.2e} | "
            f"{r['ours'] * 1e3:.0f} | {r['pydicom'] * 1e3:.0f} | "
            f"{r['ours'] / r['pydicom']:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
