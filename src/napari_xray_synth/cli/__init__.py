"""The ``xray-synth`` command line: the same core as the plugin, over files and folders.

Each subcommand lives in its own module of this package and is found by name:
``cmd_<name>.py`` adds ``xray-synth <name>``, ``train_<what>.py`` adds ``xray-synth train <what>``
and ``evaluate_<what>.py`` adds ``xray-synth evaluate <what>``. Each module has
``register(subparsers)``, which adds its parser and sets ``func`` (taking the parsed args and
returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from napari_xray_synth import __version__
from napari_xray_synth.core.errors import XraySynthError
from napari_xray_synth.core.progress import Cancelled
from napari_xray_synth.core.radiograph import source_date_epoch

PROG = "xray-synth"
GROUPS = {
    "train": "train a model (weights and card go to models/ by default)",
    "evaluate": "measure a method and write a report",
}


def _modules(prefix: str) -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)  # type: ignore[name-defined]
        if m.name.startswith(prefix)
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand module registered."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="X-ray radiographs: read, denoise, synthesize, compare."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _modules("cmd_"):
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for group, help_text in GROUPS.items():
        names = _modules(f"{group}_")
        if not names:
            continue
        gp = sub.add_parser(group, help=help_text, description=help_text)
        gsub = gp.add_subparsers(dest=f"{group}_what", metavar="WHAT")
        gsub.required = True
        for name in names:
            importlib.import_module(f"{__name__}.{name}").register(gsub)
    return parser


def fail(message: str, code: int = 2, prog: str = PROG) -> int:
    """Print one error line to stderr and return the exit code.

    ``prog`` names the subcommand as argparse's own errors do (``xray-synth denoise``).
    """
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _prog(args: argparse.Namespace) -> str:
    """``xray-synth``, its subcommand and, for a group, what (``xray-synth train gan``)."""
    words = [PROG, getattr(args, "command", None)]
    words.append(getattr(args, f"{words[1]}_what", None))
    return " ".join(w for w in words if w)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xray-synth`` console script.

    User errors print one line and exit non-zero; there is no traceback for them.
    """
    try:
        # before the subcommands import scipy: numpy's f2py would raise on a bad value there
        source_date_epoch()
    except XraySynthError as exc:
        return fail(str(exc))
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = _prog(args)
    try:
        return int(args.func(args) or 0)
    except XraySynthError as exc:
        return fail(str(exc), prog=prog)
    except Cancelled:
        return fail("cancelled", 130, prog)
    except KeyboardInterrupt:
        return fail("interrupted", 130, prog)
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # the file system said no (a folder where a file goes, no permission, disk full): one
        # line naming the path, not a traceback
        path = exc.filename2 or exc.filename  # a rename's target, not its temporary file
        where = f"{path}: " if path else ""
        return fail(f"{where}{exc.strerror or exc}", prog=prog)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
