"""``xray-synth reader-study ANSWERS.csv``: the scores of a blinded reader study."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.reader_study import format_summary, read_answers, summarize


def register(subparsers: Any) -> None:
    """Add the ``reader-study`` subcommand."""
    p = subparsers.add_parser(
        "reader-study",
        help="accuracy and AUC of telling synthetic from real, from a reader-study answers CSV",
        description=(
            "Summarise the answers CSV written by the Reader study widget: accuracy of the "
            "real/synthetic calls and the AUC of the suspicion score (6 - realism, plus 5 for a "
            "'synthetic' call), overall and per pathology."
        ),
    )
    p.add_argument("answers", type=Path, help="reader_study_answers.csv")
    p.add_argument("--reader", action="append", help="only this reader (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of the answers (all readers pooled, or the chosen ones)."""
    if args.answers.is_dir():
        raise InputError("is a folder; give the reader study's answers CSV", args.answers)
    if not args.answers.is_file():
        raise InputError("no such file", args.answers)
    rows = read_answers(args.answers)
    if args.reader:
        rows = [r for r in rows if r["reader"] in set(args.reader)]
    if not rows:
        raise InputError(
            "holds no answers" + (" from that reader" if args.reader else ""), args.answers
        )
    readers = sorted({r["reader"] for r in rows})
    summary = summarize(rows)
    if args.json:
        print(json.dumps({"readers": readers, **summary.to_dict()}, indent=2))
    else:
        print(f"readers: {', '.join(readers)}")
        print(format_summary(summary))
    return 0
