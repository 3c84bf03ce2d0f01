"""Atomic writes: a temporary file in the target folder, then a rename; and output folders that a
failed run leaves as it found them."""

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


@contextlib.contextmanager
def output_folder(folder: str | Path) -> Iterator[Path]:
    """Make ``folder`` (and missing parents) for a run; remove them again if the run fails.

    On any exception (a cancel and Ctrl-C included) the folders this call made are removed while
    they hold no file: empty subfolders the run made inside them go first, then the folders,
    deepest first. A folder that existed before is never removed, and nothing that holds a file
    is.

    Parameters
    ----------
    folder : str or Path
        The output folder.

    Raises
    ------
    InputError
        ``folder`` is a file, or it cannot be made.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file, not a folder", folder)
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or exc
            raise InputError(f"cannot make the output folder ({reason})", folder) from exc
        yield folder
    except BaseException:
        _remove_empty(made)
        raise


def _remove_empty(made: list[Path]) -> None:
    """Remove the folders in ``made`` (deepest first) and their empty subfolders, if file-less."""
    if made and made[0].is_dir():
        # everything under a folder this run made was made by this run too
        for root, dirs, _files in os.walk(made[0], topdown=False):
            for d in dirs:
                with contextlib.suppress(OSError):
                    (Path(root) / d).rmdir()  # only succeeds while empty
    for p in made:
        try:
            p.rmdir()
        except OSError:
            break
