"""Data set augmentation on Dask: K synthetic variants of every input image, with masks.

Layout of ``OUT_DIR``::

    images/<id>.<png|tif|dcm>   the variant (16-bit PNG, float32 TIFF or DICOM Secondary Capture)
    masks/<id>.<png|tif>        its uint8 label mask
    items/<id>.json             its manifest row (written last: the item is complete)
    manifest.csv, manifest.json rebuilt from items/ at the end of every run
    augment.json                the settings; a resumed run must use the same (K may grow)
    failures.csv                inputs (or items) that could not be used, and why

Every item ``<id>`` = ``<source key>_k<k>`` has a seed derived from (source key, k, global seed)
alone, so the output does not depend on the number of workers or on the order work finishes.
Every file is written to a temporary name and renamed; an item counts as done when its image,
mask and sidecar all exist, so a killed run resumes with what is missing, and leftovers of
temporary files are removed at the start of the next run. Unreadable inputs are listed in
``failures.csv`` and the run goes on; a folder that cannot be written stops the run with one
clear error.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_xray_synth.core.atomic import atomic_path, output_folder
from napari_xray_synth.core.batch_sources import Source, list_sources
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.density_cap import RULE as DENSITY_CAP_RULE
from napari_xray_synth.core.errors import InputError, ModelError, XraySynthError
from napari_xray_synth.core.export.dataset import ExportItem, safe_name, write_item
from napari_xray_synth.core.export.deidentify import UidMap
from napari_xray_synth.core.export.dicom import read_source_header
from napari_xray_synth.core.export.manifest import write_manifest
from napari_xray_synth.core.lung_field import LESION_REGION_RULE, estimate_lung_fields
from napari_xray_synth.core.placement import place_condition
from napari_xray_synth.core.progress import (
    Cancelled,
    CancelToken,
    ProgressFn,
    check_cancel,
    report,
)
from napari_xray_synth.core.synth_physics import PHYSICS_ID

DEFAULT_READER = "napari_xray_synth.core.io:read_radiograph"
DEFAULT_SYNTHESIZER = "napari_xray_synth.core.synthesize:synthesize"
FORMATS = ("png", "tif", "dcm")
LOCK = ".augment.lock"
SETTINGS = "augment.json"
#: Settings that change existing items: a resumed run must use the same ones (K may grow).
FIXED_SETTINGS = (
    "seed",
    "pathologies",
    "fmt",
    "spacing_mm",
    "method",
    "model",
    "deidentify",
    "hash_names",
)


class OutputError(XraySynthError):
    """The output folder cannot be written (read-only, full, gone)."""


@dataclass(frozen=True)
class AugmentConfig:
    """What an augmentation run makes (everything that changes the output).

    Parameters
    ----------
    per_image : int
        Variants per input image (K).
    seed : int
        Global seed.
    pathologies : tuple of str
        Drawn in turn: item k of an image gets ``pathologies[(k + offset) % n]``, the offset
        derived from the image, so the classes stay balanced for any K.
    fmt : str
        "png", "tif" or "dcm".
    spacing_mm : float, optional
        Pixel size for inputs that carry none (PNG, JPEG); inputs without either are failures.
    method, model, device
        Passed to the synthesizer ("physics" needs no model).
    deidentify : bool
        De-identify DICOM output (PS3.15 Basic Profile); on unless turned off.
    hash_names : bool
        Name items after a hash of the source's key instead of its file name (source file names
        often hold patient IDs or UIDs). The manifest's ``source`` column still names the
        source: it is the link table, to be kept apart when the data set is shared.
    reader, synthesizer : str
        "module:function" of the image reader and the synthesizer (plug points; tests use them).
    """

    per_image: int
    seed: int = 0
    pathologies: tuple[str, ...] = PATHOLOGIES
    fmt: str = "png"
    spacing_mm: float | None = None
    method: str = "physics"
    model: str = "generator"
    device: str = "cpu"
    deidentify: bool = True
    hash_names: bool = False
    reader: str = DEFAULT_READER
    synthesizer: str = DEFAULT_SYNTHESIZER

    def check(self) -> None:
        """Raise :class:`InputError` for a value that cannot work."""
        if self.per_image < 1:
            raise InputError(f"--per-image must be 1 or more, got {self.per_image}")
        if self.seed < 0:
            raise InputError(f"--seed must be 0 or more, got {self.seed}")
        if self.fmt not in FORMATS:
            raise InputError(f"unknown format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        bad = [p for p in self.pathologies if p not in PATHOLOGIES]
        if bad or not self.pathologies:
            raise InputError(
                f"unknown pathology {', '.join(bad) or '(none)'}; "
                f"choose from {', '.join(PATHOLOGIES)}"
            )
        if self.spacing_mm is not None and not 0.01 <= self.spacing_mm <= 5.0:
            raise InputError(
                f"--spacing must be a pixel size in mm (0.01-5), got {self.spacing_mm}"
            )


@dataclass(frozen=True)
class ItemPlan:
    """One output item: variant ``k`` of a source."""

    item_id: str
    k: int
    seed: int
    pathology: str


@dataclass(frozen=True)
class SourceTask:
    """The items of one source image: one Dask task (the image is read once)."""

    source: Source
    items: tuple[ItemPlan, ...]


@dataclass
class SourceResult:
    """What a task did."""

    key: str
    written: list[str] = field(default_factory=list)
    skipped: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds_read: float = 0.0
    seconds_items: list[float] = field(default_factory=list)
    cpu_seconds_items: list[float] = field(default_factory=list)
    lung_method: str = ""


@dataclass
class AugmentSummary:
    """The result of a run."""

    out_dir: Path
    sources: int
    items: int
    written: int
    already_done: int
    failed_sources: int
    failed_items: int
    seconds: float
    work_seconds: float
    workers: int
    item_seconds_mean: float
    item_cpu_seconds_mean: float
    read_seconds_mean: float
    lung_methods: dict[str, int]
    manifest: Path | None
    failures: Path
    #: complete items past ``--per-image`` left by an earlier run with a larger one (listed)
    beyond_per_image: int = 0

    @property
    def items_per_second(self) -> float:
        """Items written per wall-clock second of this run (cluster start included)."""
        return self.written / self.seconds if self.seconds > 0 else 0.0

    @property
    def work_items_per_second(self) -> float:
        """Items written per second from the first task sent to the last result."""
        return self.written / self.work_seconds if self.work_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        d = asdict(self)
        d.update(
            out_dir=str(self.out_dir), manifest=str(self.manifest), failures=str(self.failures)
        )
        d["items_per_second"] = self.items_per_second
        d["work_items_per_second"] = self.work_items_per_second
        return d


# ---------------------------------------------------------------- planning


def derive_seed(key: str, k: int, seed: int) -> int:
    """The seed of item ``k`` of source ``key`` under the global ``seed`` (62 bits)."""
    digest = hashlib.sha256(f"{key}\0{k}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2


def _stem(key: str) -> str:
    return safe_name(str(Path(key).with_suffix("")).replace("/", "__").replace("\\", "__"))


def plan(sources: Sequence[Source], config: AugmentConfig) -> list[SourceTask]:
    """The items of every source, with ids, seeds and pathologies."""
    if config.hash_names:
        stems = ["h" + hashlib.sha256(s.key.encode()).hexdigest()[:16] for s in sources]
    else:
        stems = [_stem(s.key) for s in sources]
    counts = Counter(stems)
    tasks = []
    n = len(config.pathologies)
    for src, stem in zip(sources, stems, strict=True):
        if counts[stem] > 1:  # a.png and a.dcm: keep both apart
            stem = f"{stem}_{hashlib.sha1(src.key.encode()).hexdigest()[:6]}"
        offset = derive_seed(src.key, -1, config.seed) % n
        items = tuple(
            ItemPlan(
                f"{stem}_k{k:03d}",
                k,
                derive_seed(src.key, k, config.seed),
                config.pathologies[(k + offset) % n],
            )
            for k in range(config.per_image)
        )
        tasks.append(SourceTask(src, items))
    return tasks


def mask_suffix(fmt: str) -> str:
    """Masks are TIFF beside TIFF images and PNG otherwise."""
    return "tif" if fmt == "tif" else "png"


def item_paths(out_dir: Path, item_id: str, fmt: str) -> tuple[Path, Path, Path]:
    """(image, mask, sidecar) of an item."""
    return (
        out_dir / "images" / f"{item_id}.{fmt}",
        out_dir / "masks" / f"{item_id}.{mask_suffix(fmt)}",
        out_dir / "items" / f"{item_id}.json",
    )


def item_complete(out_dir: Path, item_id: str, fmt: str) -> bool:
    """True when the image, the mask and the sidecar of an item all exist."""
    return all(p.is_file() for p in item_paths(out_dir, item_id, fmt))


# ---------------------------------------------------------------- the work of one task


def resolve(spec: str) -> Callable[..., Any]:
    """The function named by ``"module:function"``."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"cannot load {spec!r} ({exc})") from exc


def _write_item(
    out_dir: Path,
    plan_item: ItemPlan,
    variant: Any,
    src: Source,
    config: AugmentConfig,
    header: Any,
    uid_map: UidMap,
    extra: dict[str, Any],
) -> None:
    item = ExportItem(
        plan_item.item_id,
        variant.radiograph,
        variant.mask,
        tuple(variant.conditions),
        plan_item.seed,
    )
    try:
        row = write_item(
            item,
            out_dir,
            plan_item.item_id,
            config.fmt,
            deidentify=config.deidentify,
            uid_map=uid_map,
            source_header=header,
        )
        row.update(source=src.key, **extra)
        with atomic_path(out_dir / "items" / f"{plan_item.item_id}.json") as tmp:
            tmp.write_text(json.dumps(row, default=str), encoding="utf-8")
    except (OSError, InputError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise OutputError(f"{out_dir}: cannot write the output ({reason})") from exc


def process_source(
    task: SourceTask, config: AugmentConfig, out_dir: str, uid_secret: str
) -> SourceResult:
    """Make the missing items of one source (runs on a Dask worker).

    Unreadable input and unusable items come back as failures; a write error raises
    :class:`OutputError`, which stops the run.
    """
    out = Path(out_dir)
    src = task.source
    result = SourceResult(src.key)
    todo = [it for it in task.items if not item_complete(out, it.item_id, config.fmt)]
    result.skipped = len(task.items) - len(todo)
    if not todo:
        return result
    if src.problem:
        result.failures.append({"source": src.key, "item": "", "reason": src.problem})
        return result
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(1)
    reader, synth = resolve(config.reader), resolve(config.synthesizer)
    t0 = time.perf_counter()
    try:
        rg = reader(src.path)
    except Exception as exc:  # any unreadable input is skipped and listed, the run goes on
        result.failures.append({"source": src.key, "item": "", "reason": _reason(exc)})
        return result
    if rg.spacing is None and config.spacing_mm:
        rg = rg.with_spacing((config.spacing_mm, config.spacing_mm), "user")
    if rg.spacing is None:
        result.failures.append(
            {"source": src.key, "item": "", "reason": "no pixel spacing: give --spacing MM"}
        )
        return result
    fields = estimate_lung_fields(rg.image)
    result.lung_method = fields.method
    header = read_source_header(rg) if config.fmt == "dcm" else None
    uid_map = UidMap(uid_secret)
    px = float(np.mean(rg.spacing))
    result.seconds_read = time.perf_counter() - t0
    for it in todo:
        t1, c1 = time.perf_counter(), time.process_time()
        rng = np.random.default_rng(it.seed)
        try:
            cond = place_condition(rng, it.pathology, fields, px)
            variant = synth(
                rg,
                [cond],
                n_variants=1,
                seed=it.seed,
                method=config.method,
                model=config.model,
                device=config.device,
                regions=fields,  # clipped to fields.lesion_region, as in napari and synth
            )[0]
        except InputError as exc:
            result.failures.append({"source": src.key, "item": it.item_id, "reason": str(exc)})
            continue
        extra = {
            "k": it.k,
            "variant_seed": variant.seed,
            "lung_field": fields.method,
            "source_findings": src.findings,
        }
        _write_item(out, it, variant, src, config, header, uid_map, extra)
        result.written.append(it.item_id)
        result.seconds_items.append(time.perf_counter() - t1)
        result.cpu_seconds_items.append(time.process_time() - c1)
    return result


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"unreadable: {text}".replace("\n", " ")[:300]


# ---------------------------------------------------------------- the output folder


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    lock = out_dir / LOCK
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError as exists:
            host, _, pid = lock.read_text().partition(" ")
            if host == socket.gethostname() and pid.strip().isdigit():
                try:
                    os.kill(int(pid), 0)
                except ProcessLookupError:
                    lock.unlink(missing_ok=True)  # left by a killed run
                    continue
                except PermissionError:
                    pass
                raise InputError(
                    f"another augment run (pid {pid.strip()}) is writing here", out_dir
                ) from exists
            raise InputError(f"locked by an augment run on {host} ({lock})", out_dir) from exists
        except OSError as exc:
            raise OutputError(f"{out_dir}: cannot write here ({exc.strerror})") from exc
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
            break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _prepare(out_dir: Path, pending_items: int, sources: Sequence[Source], fmt: str) -> None:
    """Create the folders, prove they can be written and that the disk has room."""
    try:
        for sub in ("", "images", "masks", "items"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        with atomic_path(out_dir / ".write-test") as tmp:
            tmp.write_bytes(b"x" * 4096)
        (out_dir / ".write-test").unlink()
    except (OSError, InputError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise OutputError(f"{out_dir}: cannot write the output ({reason})") from exc
    sizes = [s.path.stat().st_size for s in sources[:20] if s.path.is_file()]
    if sizes and pending_items:
        # a rough floor: the source's size (x2 for float32 TIFF) plus a mask per item
        per_item = float(np.mean(sizes)) * (2.0 if fmt == "tif" else 1.0) * 1.1
        need = per_item * pending_items
        free = shutil.disk_usage(out_dir).free
        if free < need:
            raise OutputError(
                f"{out_dir}: not enough free space: about {need / 1e9:.2f} GB needed for "
                f"{pending_items} items, {free / 1e9:.2f} GB free"
            )


def _check_settings(out_dir: Path, config: AugmentConfig) -> None:
    """Refuse to resume a folder made with other settings; record them on the first run."""
    path = out_dir / SETTINGS
    mine = {k: v for k, v in asdict(config).items() if k in FIXED_SETTINGS}
    mine["pathologies"] = list(mine["pathologies"])
    mine["lesion_region"] = LESION_REGION_RULE  # how lesions are clipped: items must agree
    mine["density_cap"] = DENSITY_CAP_RULE  # and how bright the GAN may draw them
    if config.method == "physics":
        mine["physics"] = PHYSICS_ID  # and how the physics method draws them
    if path.is_file():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"unreadable {SETTINGS} ({exc})", out_dir) from exc
        diff = [k for k in mine if theirs.get(k) != mine[k]]
        # a run that finished no item (every source failed, or it was stopped at once) binds
        # nothing: new settings replace its record
        done = any((out_dir / "items").glob("*.json"))
        if diff and done:
            what = ", ".join(f"{k} {theirs.get(k)!r} (now {mine[k]!r})" for k in diff)
            raise InputError(
                f"holds a run made with other settings: {what}; use another folder", out_dir
            )
        if not diff:
            return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(mine, indent=1) + "\n", encoding="utf-8")


def _clean_temporaries(out_dir: Path) -> int:
    """Remove temporary files left by a killed run (``.<name>.<random>.part.<ext>``)."""
    n = 0
    for sub in ("", "images", "masks", "items"):
        for p in (out_dir / sub).glob(".*.part*"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def _write_failures(out_dir: Path, failures: list[dict[str, str]]) -> Path:
    path = out_dir / "failures.csv"
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["source", "item", "reason"])
        w.writeheader()
        for f in sorted(failures, key=lambda f: (f["source"], f["item"])):
            w.writerow(f)
    return path


def _items_beyond_plan(out_dir: Path, tasks: Sequence[SourceTask], fmt: str) -> list[str]:
    """Complete items of the planned sources past their last planned k: made by an earlier run
    with a larger ``--per-image``."""
    stems = {t.items[0].item_id.rsplit("_k", 1)[0]: len(t.items) for t in tasks if t.items}
    found = []
    for side in (out_dir / "items").glob("*_k*.json"):
        stem, _, k = side.stem.rpartition("_k")
        if k.isdigit() and stem in stems and int(k) >= stems[stem]:
            if item_complete(out_dir, side.stem, fmt):
                found.append(side.stem)
    return sorted(found)


def rebuild_manifest(
    out_dir: Path, tasks: Sequence[SourceTask], fmt: str
) -> tuple[Path | None, int]:
    """Write the manifest from the sidecars of the complete items of the planned sources: the
    planned ones and any an earlier run with a larger ``--per-image`` made. Returns the
    manifest (None with no item) and how many of the latter it lists."""
    ids = [
        it.item_id for task in tasks for it in task.items if item_complete(out_dir, it.item_id, fmt)
    ]
    beyond = _items_beyond_plan(out_dir, tasks, fmt)
    rows = [
        json.loads(item_paths(out_dir, i, fmt)[2].read_text(encoding="utf-8")) for i in ids + beyond
    ]
    if not rows:
        return None, 0
    csv_path, _ = write_manifest(rows, out_dir)
    return csv_path, len(beyond)


# ---------------------------------------------------------------- the run


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (they inherit it): Ctrl-C in a terminal goes
    to the whole process group, and each worker printed its traceback before the run's one
    line. The run itself stops them when it is interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on an existing scheduler, or on a local cluster of processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address
            raise InputError(f"cannot reach the Dask scheduler ({exc})", scheduler) from exc
        with client:
            yield client
        return
    with warnings.catch_warnings(), _workers_ignore_ctrl_c():
        # the scheduler's HTTP endpoint moves to a free port when 8787 is taken: not news
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield client


def run_augment(
    input_path: str | Path,
    out_dir: str | Path,
    config: AugmentConfig,
    workers: int = 2,
    scheduler: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AugmentSummary:
    """Augment a data set on Dask; see the module docstring for the layout and guarantees.

    Parameters
    ----------
    input_path : str or Path
        A folder of images or a ChestX-ray14 / CheXpert style CSV.
    out_dir : str or Path
        Output folder (created; resumed when it holds a previous run).
    config : AugmentConfig
        What to make.
    workers : int
        Local worker processes (one thread each); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running ``dask scheduler``; its workers must see the same paths.
    progress, cancel
        The core's progress callback (items) and cancel token.
    """
    t0 = time.perf_counter()
    config.check()
    if workers < 1 and not scheduler:
        raise InputError(f"--workers must be 1 or more, got {workers}")
    sources = list_sources(input_path)
    out = Path(out_dir)
    tasks = plan(sources, config)
    all_items = sum(len(t.items) for t in tasks)
    # a scheduler that cannot be reached is refused before anything is made, and a run that
    # fails before writing leaves no empty folders behind (output_folder)
    remote = dask_client(workers, scheduler) if scheduler else contextlib.nullcontext()
    with remote as remote_client, output_folder(out):
        done_before = sum(
            item_complete(out, it.item_id, config.fmt) for t in tasks for it in t.items
        )
        _prepare(out, all_items - done_before, sources, config.fmt)
        results: list[SourceResult] = []
        n_workers = workers
        work_seconds = 0.0
        with _locked(out):
            _check_settings(out, config)
            _clean_temporaries(out)
            pending = [
                t
                for t in tasks
                if any(not item_complete(out, i.item_id, config.fmt) for i in t.items)
            ]
            total = sum(len(t.items) for t in pending)
            done = 0
            report(progress, 0, total)
            if pending:
                try:
                    local = dask_client(workers, None) if remote_client is None else None
                    with local or contextlib.nullcontext(remote_client) as client:
                        from distributed import as_completed

                        if scheduler:
                            n_workers = len(client.scheduler_info().get("workers", {}))
                        secret = hashlib.sha256(os.urandom(32)).hexdigest()
                        t_work = time.perf_counter()
                        futures = [
                            client.submit(
                                process_source,
                                t,
                                config,
                                str(out),
                                secret,
                                pure=False,
                                key=f"augment-{i}-{os.getpid()}",
                            )
                            for i, t in enumerate(pending)
                        ]
                        try:
                            for fut in as_completed(futures):
                                check_cancel(cancel)
                                res = fut.result()
                                results.append(res)
                                done += len(res.written) + len(res.failures) + res.skipped
                                report(progress, min(done, total), total)
                        except BaseException:
                            client.cancel(futures)
                            raise
                        work_seconds = time.perf_counter() - t_work
                except (KeyboardInterrupt, Cancelled):
                    # the local workers are stopped by now: what is finished is listed, so the
                    # folder can be used before it is resumed
                    with contextlib.suppress(OSError, InputError, ValueError):
                        rebuild_manifest(out, tasks, config.fmt)
                    raise
            failures = [f for r in results for f in r.failures]
            fail_path = _write_failures(out, failures)
            manifest, beyond = rebuild_manifest(out, tasks, config.fmt)
    item_times = [s for r in results for s in r.seconds_items]
    cpu_times = [s for r in results for s in r.cpu_seconds_items]
    read_times = [r.seconds_read for r in results if r.seconds_read]
    return AugmentSummary(
        out_dir=out,
        sources=len(sources),
        items=all_items,
        written=sum(len(r.written) for r in results),
        already_done=done_before,
        failed_sources=sum(1 for f in failures if not f["item"]),
        failed_items=sum(1 for f in failures if f["item"]),
        seconds=time.perf_counter() - t0,
        work_seconds=work_seconds,
        workers=n_workers,
        item_seconds_mean=float(np.mean(item_times)) if item_times else 0.0,
        item_cpu_seconds_mean=float(np.mean(cpu_times)) if cpu_times else 0.0,
        read_seconds_mean=float(np.mean(read_times)) if read_times else 0.0,
        lung_methods=dict(Counter(r.lung_method for r in results if r.lung_method)),
        manifest=manifest,
        failures=fail_path,
        beyond_per_image=beyond,
    )


__all__ = [
    "AugmentConfig",
    "AugmentSummary",
    "Cancelled",
    "OutputError",
    "derive_seed",
    "item_complete",
    "list_sources",
    "plan",
    "process_source",
    "run_augment",
]
