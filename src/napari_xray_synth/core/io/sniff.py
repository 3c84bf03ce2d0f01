"""Cheap checks on a path: does it exist, is it a file, and which format do its first bytes say."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

from napari_xray_synth.core.errors import InputError

Format = Literal["dicom", "acr-nema?", "tiff", "png", "jpeg", "unknown"]

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
TIFF_SUFFIXES = {".tif", ".tiff"}
PNG_SUFFIXES = {".png"}
JPEG_SUFFIXES = {".jpg", ".jpeg"}
KNOWN_SUFFIXES = DICOM_SUFFIXES | TIFF_SUFFIXES | PNG_SUFFIXES | JPEG_SUFFIXES

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# the groups an ACR-NEMA (or a preamble-less DICOM) data set starts with
_FIRST_GROUPS = {0x0000, 0x0002, 0x0008}


def check_readable(path: str | Path) -> Path:
    """The path as a :class:`Path`, or an :class:`InputError` saying why it cannot be read.

    Raises
    ------
    InputError
        The path does not exist, is a folder, is empty or cannot be opened.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("does not exist", p)
    if p.is_dir():
        raise InputError("is a folder; give one image file", p)
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", p) from exc
    if size == 0:
        raise InputError("is empty (0 bytes)", p)
    return p


def _looks_like_bare_dataset(head: bytes) -> bool:
    """True when ``head`` starts like a data set without preamble (ACR-NEMA or a bare DICOM)."""
    if len(head) < 8:
        return False
    group, _elem = struct.unpack("<HH", head[:4])
    if group not in _FIRST_GROUPS:
        return False
    vr = head[4:6]
    if vr.isalpha() and vr.isupper():  # explicit VR little endian
        return True
    (length,) = struct.unpack("<I", head[4:8])  # implicit VR: a plausible element length
    return length < 1 << 20 or length == 0xFFFFFFFF


def sniff(path: str | Path) -> Format:
    """The format the first bytes of a readable file show (no parsing beyond the header).

    Returns
    -------
    str
        "dicom" (Part-10 preamble), "tiff", "png", "jpeg", "acr-nema?" (looks like a data set
        without preamble; a full parse decides) or "unknown".
    """
    with Path(path).open("rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    if _looks_like_bare_dataset(head):
        return "acr-nema?"
    return "unknown"


def is_supported(path: str | Path) -> bool:
    """Cheap: could this be a file we read? (No decoding; used by the napari reader.)

    A known suffix is enough (a damaged ``.dcm`` is ours to report); any other file needs the
    magic bytes of a supported format or the start of a data set without preamble.
    """
    p = Path(path)
    if not p.is_file():
        return False
    if p.suffix.lower() in KNOWN_SUFFIXES:
        return True
    try:
        return sniff(p) != "unknown"
    except OSError:
        return False
