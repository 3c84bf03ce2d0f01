"""A blinded reader study: can readers tell synthetic radiographs from real ones?

A study folder holds real and synthetic images. Which is which comes from, in this order:

1. ``truth.csv`` in the folder, with columns ``file`` (path relative to the folder), ``truth``
   (``real`` or ``synthetic``) and optionally ``pathology``;
2. otherwise the subfolders ``real/`` and ``synthetic/``; a further subfolder names the
   pathology (``synthetic/nodule/case7.png``), images directly inside have none.

Items are shown in an order drawn from a seed. Each answer, "real" or "synthetic" plus a realism
score from 1 (clearly artificial) to 5 (indistinguishable from a real radiograph), is appended to
a CSV at once (flushed and fsynced), so that nothing is lost on a crash; a study opened again on
the same CSV by the same reader skips what was answered.

Scores
------
Accuracy is the share of answers whose real/synthetic call is right. The AUC measures how well
the reader separates synthetic from real images (synthetic is the positive class; 0.5 = chance,
which is what a perfect generator aims for). Its score puts the call and the realism on one
10-step confidence scale::

    suspicion = (6 - realism) + (5 if answer == "synthetic" else 0)

so every "synthetic" call ranks above every "real" call, and within a call a lower realism means
more suspicion ("real, realism 5" = 1 ... "synthetic, realism 1" = 10). The AUC is the
Mann-Whitney probability that a synthetic image gets a higher suspicion than a real one, ties
counting one half.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_xray_synth.core.errors import InputError

TRUTHS = ("real", "synthetic")
REALISM = (1, 2, 3, 4, 5)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".dcm", ".dicom")
TRUTH_FILE = "truth.csv"
DEFAULT_ANSWERS = "reader_study_answers.csv"
FIELDS = (
    "reader",
    "item",
    "truth",
    "pathology",
    "answer",
    "realism",
    "position",
    "seed",
    "time_utc",
)
NO_PATHOLOGY = "none"
SHOWN_MAX = 255  # study images are shown as uint8 0..255, whatever their source


@dataclass(frozen=True)
class StudyItem:
    """One image of a study. ``item`` is its path relative to the folder (the CSV key)."""

    item: str
    path: Path
    truth: str
    pathology: str = NO_PATHOLOGY


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _from_truth_csv(folder: Path) -> list[StudyItem]:
    table = folder / TRUTH_FILE
    items = []
    with open(table, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower() for c in reader.fieldnames or []}
        if not {"file", "truth"} <= cols:
            raise InputError(
                "needs the columns 'file' and 'truth' (and optionally 'pathology')", table
            )
        for n, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            truth = row["truth"].lower()
            if truth not in TRUTHS:
                raise InputError(
                    f"line {n}: truth must be real or synthetic, not {row['truth']!r}", table
                )
            path = folder / row["file"]
            if not path.is_file():
                raise InputError(f"line {n}: {row['file']} is not in the folder", table)
            items.append(
                StudyItem(
                    Path(row["file"]).as_posix(),
                    path,
                    truth,
                    row.get("pathology", "").lower() or NO_PATHOLOGY,
                )
            )
    return items


def _from_subfolders(folder: Path) -> list[StudyItem]:
    items = []
    for truth in TRUTHS:
        sub = folder / truth
        if not sub.is_dir():
            continue
        for p in sorted(sub.rglob("*")):
            if not _is_image(p):
                continue
            rel = p.relative_to(sub)
            pathology = rel.parts[0].lower() if len(rel.parts) > 1 else NO_PATHOLOGY
            items.append(StudyItem(p.relative_to(folder).as_posix(), p, truth, pathology))
    return items


def discover(folder: str | Path) -> list[StudyItem]:
    """The images of a study folder with their truth and pathology, sorted by path.

    Raises
    ------
    InputError
        No such folder, a bad ``truth.csv``, or no image at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a folder", folder)
    if (folder / TRUTH_FILE).is_file():
        items = _from_truth_csv(folder)
    else:
        items = _from_subfolders(folder)
    if not items:
        raise InputError(
            "holds no study images: put them in real/ and synthetic/ subfolders, "
            f"or list them in {TRUTH_FILE} (columns file, truth, pathology)",
            folder,
        )
    return sorted(items, key=lambda it: it.item)


def study_order(items: Sequence[StudyItem], seed: int) -> list[StudyItem]:
    """The items in a random order drawn from ``seed`` (the same seed gives the same order)."""
    ordered = sorted(items, key=lambda it: it.item)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    return [ordered[i] for i in perm]


def blind_pixels(image: np.ndarray, seed: int | Sequence[int] = 0) -> np.ndarray:
    """The pixels a reader is shown: one value grid for every study image, real or synthetic.

    The image (as windowed for display) is stretched to its own minimum and maximum, dithered
    with triangular noise of at most one grey level and rounded to uint8 0..255, as an 8-bit
    monitor shows it anyway. Without this an 8-bit real film gives itself away against a
    synthetic float one: on hover its values are multiples of 1/255, and once stretched its
    histogram (napari's contrast-limits histogram) is a comb with empty levels; the dither
    fills those for sources with more than about 85 levels in the window.

    Parameters
    ----------
    image : ndarray
        The display image (``Radiograph.display()``).
    seed : int or sequence of int
        Seed of the dither, so that the same item looks the same when the study is resumed.

    Returns
    -------
    ndarray
        uint8, the shape of ``image``; all zeros for a flat image.
    """
    img = np.asarray(image, dtype=np.float32)
    lo, hi = float(img.min()), float(img.max())
    if not hi > lo:
        return np.zeros(img.shape, np.uint8)
    scaled = (img - lo) * np.float32(SHOWN_MAX / (hi - lo))
    rng = np.random.default_rng(seed)
    scaled += rng.random(img.shape, dtype=np.float32)
    scaled -= rng.random(img.shape, dtype=np.float32)
    return np.clip(np.rint(scaled), 0, SHOWN_MAX).astype(np.uint8)


def read_answers(path: str | Path) -> list[dict[str, str]]:
    """All complete answer rows of an answers CSV (a torn last line from a crash is skipped).

    Raises
    ------
    InputError
        The file exists but is not an answers CSV.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fieldnames = tuple(reader.fieldnames or ())
            rows = [] if fieldnames != FIELDS else [row for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError("is not a reader-study answers file (not CSV text)", path) from exc
    if fieldnames != FIELDS:
        raise InputError(f"is not a reader-study answers file (columns {', '.join(FIELDS)})", path)
    return [
        {k: row[k] for k in FIELDS}
        for row in rows
        if None not in row.values()
        and row.get("answer") in TRUTHS
        and row.get("realism") in {str(r) for r in REALISM}
    ]


def append_answer(path: str | Path, row: Mapping[str, Any]) -> None:
    """Append one answer row to the CSV, writing the header first for a new file.

    The row is flushed and fsynced before this returns, so a crash loses nothing already answered.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("the folder for the answers file does not exist", path.parent)
    new = not path.is_file() or path.stat().st_size == 0
    try:
        with open(path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in FIELDS})
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise InputError(f"cannot write the answers ({exc.strerror})", path) from exc


def suspicion(answer: str, realism: int) -> int:
    """The 1-10 score the AUC ranks by: how strongly the reader says "synthetic"."""
    return (6 - int(realism)) + (5 if answer == "synthetic" else 0)


def auc(scores_positive: Iterable[float], scores_negative: Iterable[float]) -> float | None:
    """Mann-Whitney AUC: P(positive score > negative score) + P(equal) / 2; None without both."""
    pos = np.asarray(list(scores_positive), dtype=np.float64)
    neg = np.asarray(list(scores_negative), dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    equal = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * equal) / (pos.size * neg.size))


@dataclass
class Summary:
    """How well synthetic images were told from real ones, for one group of answers."""

    n: int
    n_real: int
    n_synthetic: int
    accuracy: float | None
    auc: float | None
    mean_realism_real: float | None
    mean_realism_synthetic: float | None
    per_pathology: dict[str, Summary] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = {k: getattr(self, k) for k in (
            "n", "n_real", "n_synthetic", "accuracy", "auc",
            "mean_realism_real", "mean_realism_synthetic",
        )}  # fmt: skip
        d["per_pathology"] = {k: v.to_dict() for k, v in self.per_pathology.items()}
        return d


def _mean(values: list[int]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize(rows: Sequence[Mapping[str, str]], by_pathology: bool = True) -> Summary:
    """Accuracy, AUC and mean realism of answer rows (see the module notes), per pathology too.

    Only the first answer of a reader to an item counts.
    """
    seen: set[tuple[str, str]] = set()
    kept = []
    for row in rows:
        key = (row["reader"], row["item"])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    real = [r for r in kept if r["truth"] == "real"]
    syn = [r for r in kept if r["truth"] == "synthetic"]
    correct = sum(r["answer"] == r["truth"] for r in kept)
    out = Summary(
        n=len(kept),
        n_real=len(real),
        n_synthetic=len(syn),
        accuracy=correct / len(kept) if kept else None,
        auc=auc(
            [suspicion(r["answer"], int(r["realism"])) for r in syn],
            [suspicion(r["answer"], int(r["realism"])) for r in real],
        ),
        mean_realism_real=_mean([int(r["realism"]) for r in real]),
        mean_realism_synthetic=_mean([int(r["realism"]) for r in syn]),
    )
    if by_pathology:
        for name in sorted({r["pathology"] or NO_PATHOLOGY for r in kept}):
            group = [r for r in kept if (r["pathology"] or NO_PATHOLOGY) == name]
            out.per_pathology[name] = summarize(group, by_pathology=False)
    return out


def format_summary(s: Summary) -> str:
    """A short plain-text report of a summary (no file names: safe to show to the reader)."""

    def f(v: float | None, fmt: str = "{:.2f}") -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

    lines = [
        f"answered {s.n} ({s.n_real} real, {s.n_synthetic} synthetic)",
        f"accuracy {f(s.accuracy)}  AUC {f(s.auc)}  (0.5 = synthetic not told from real)",
        f"mean realism: real {f(s.mean_realism_real)}, synthetic {f(s.mean_realism_synthetic)}",
    ]
    if s.per_pathology:
        lines.append("per pathology: accuracy / AUC / n")
        for name, g in s.per_pathology.items():
            lines.append(f"  {name}: {f(g.accuracy)} / {f(g.auc)} / {g.n}")
    return "\n".join(lines)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ReaderStudy:
    """One reader's pass through a study folder, resumable from its answers CSV.

    Parameters
    ----------
    folder : str or Path
        The study folder (see the module notes for its layout).
    reader : str
        The reader's name or code; answers are kept per reader.
    seed : int
        Seed of the presentation order.
    answers : str or Path, optional
        The answers CSV (default ``reader_study_answers.csv`` in the folder). It is only ever
        appended to.

    Raises
    ------
    InputError
        No reader name, or a folder without study images.
    """

    def __init__(
        self, folder: str | Path, reader: str, seed: int = 0, answers: str | Path | None = None
    ) -> None:
        reader = (reader or "").strip()
        if not reader:
            raise InputError("enter a reader name before starting the study")
        self.folder = Path(folder)
        self.reader = reader
        self.seed = int(seed)
        self.items = study_order(discover(self.folder), self.seed)
        self.answers_path = Path(answers) if answers else self.folder / DEFAULT_ANSWERS
        where = self.answers_path.parent
        if not where.is_dir() or not os.access(where, os.W_OK):
            # said now, not at the first answer
            raise InputError("cannot write the answers file here", where)
        done = {r["item"] for r in read_answers(self.answers_path) if r["reader"] == reader}
        self._answered = [it.item for it in self.items if it.item in done]

    @property
    def total(self) -> int:
        """Number of images in the study."""
        return len(self.items)

    @property
    def done(self) -> int:
        """Number of images this reader has answered."""
        return len(self._answered)

    @property
    def finished(self) -> bool:
        """True when every image is answered."""
        return self.done >= self.total

    def current(self) -> StudyItem | None:
        """The next image to show (None when finished)."""
        answered = set(self._answered)
        for it in self.items:
            if it.item not in answered:
                return it
        return None

    def answer(self, answer: str, realism: int) -> StudyItem:
        """Record the answer for the current image and move on; the row is on disk on return.

        Raises
        ------
        InputError
            Bad answer or realism, or the study is finished.
        """
        answer = str(answer).lower()
        if answer not in TRUTHS:
            raise InputError(f"the answer must be real or synthetic, not {answer!r}")
        if int(realism) not in REALISM:
            raise InputError(f"the realism score must be 1 to 5, not {realism!r}")
        item = self.current()
        if item is None:
            raise InputError("the study is finished")
        append_answer(
            self.answers_path,
            {
                "reader": self.reader,
                "item": item.item,
                "truth": item.truth,
                "pathology": item.pathology,
                "answer": answer,
                "realism": int(realism),
                "position": self.items.index(item) + 1,
                "seed": self.seed,
                "time_utc": _now(),
            },
        )
        self._answered.append(item.item)
        return item

    def results(self) -> Summary:
        """This reader's summary so far."""
        rows = [r for r in read_answers(self.answers_path) if r["reader"] == self.reader]
        return summarize(rows)
