"""Atomic writes: a temporary file in the target folder, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from napari_xray_synth.core.errors import InputError


def _file_mode() -> int:
    # mkstemp makes 0600 files; a finished output gets the mode a plain open() would give it
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Nothing is left behind when the body raises. The temporary name keeps the target's suffix
    so that writers which dispatch on the extension still work.

    Parameters
    ----------
    target : str or Path
        The file to create or replace.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("the output folder does not exist", folder)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=folder
        )
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror})", folder) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with contextlib.suppress(OSError):
            os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
