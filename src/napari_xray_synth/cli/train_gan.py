"""``xray-synth train gan``: train the conditional generator (paired on the simulator, or unpaired
on real labelled images: a ChestX-ray14-style CSV, or a data set exported with painted masks)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from napari_xray_synth.core.conditions import LABELS
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM

#: Settings of a run that is neither an unpaired fine-tune nor given on the command line: the
#: defaults of the issue's table.
DEFAULTS = {"r1": 10.0, "d_steps": 1, "mode_seeking": 1.0, "anchor": 0.0, "d_warmup": 0}
#: An unpaired run with --init-from (a user's fine-tune on their films) defaults to these instead:
#: with R1 10 the discriminator sits at the constant answer and its noise, amplified by the
#: mode-seeking term with nothing holding the lesion, wrecks a trained generator within 200 steps
#: (measured on simulator windows by benchmarks/unpaired_finetune.py; docs/synth.md).
FINE_TUNE = {"r1": 0.0, "d_steps": 4, "mode_seeking": 0.0, "anchor": 10.0, "d_warmup": 200}
#: Network shape when neither the command line nor a starting generator gives one.
SHAPE = {"window": 128, "base": 16, "depth": 4}
#: Fewer labelled lesions than this in an unpaired run get a warning (4 NIH lesions were learnt
#: by heart: the discriminator's loss fell to 0.33 during its warm-up).
FEW_LESIONS = 200


def _json_beside(path: str) -> dict:
    """The JSON beside a model or checkpoint (``stem.json``), or {} when there is none."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    try:
        return json.loads(stem.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def _started_from(args: argparse.Namespace) -> dict[str, float]:
    """Settings recorded by the run being resumed, or the shape of the generator started from
    (a model card's ``window`` and ``config``, or a checkpoint's config)."""
    if args.resume:
        cfg = _json_beside(args.resume).get("config", {})
    elif args.init_from:
        card = _json_beside(args.init_from)
        cfg = {"window": card.get("window"), **card.get("config", {})}
    else:
        return {}
    names = {"g_base": "base", "g_depth": "depth"}
    return {names.get(k, k): v for k, v in cfg.items() if v is not None}


def shape(args: argparse.Namespace) -> dict[str, int]:
    """Window, base and depth: the command line's, else the starting generator's, else SHAPE."""
    start = _started_from(args)
    return {
        k: int(getattr(args, k) if getattr(args, k) is not None else start.get(k, SHAPE[k]))
        for k in SHAPE
    }


def settings(args: argparse.Namespace, mode: str) -> dict[str, float]:
    """R1, discriminator steps, mode seeking, anchor and warm-up of this run, defaults resolved.

    Given on the command line wins; else a resumed run keeps its checkpoint's settings, an
    unpaired run with --init-from takes :data:`FINE_TUNE`, any other :data:`DEFAULTS`.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``train gan`` arguments.
    mode : str
        "paired" or "unpaired".

    Returns
    -------
    dict
        ``r1``, ``d_steps``, ``mode_seeking``, ``anchor``, ``d_warmup``.

    Raises
    ------
    InputError
        A negative value, or an anchor without a generator to start from.
    """
    if args.resume:  # a checkpoint from before anchors and warm-ups had neither: DEFAULTS' 0
        started = _started_from(args)
        base = {k: started.get(k, v) for k, v in DEFAULTS.items()}
    else:
        base = FINE_TUNE if mode == "unpaired" and args.init_from else DEFAULTS
    out = {k: base[k] if getattr(args, k) is None else getattr(args, k) for k in DEFAULTS}
    for k, v in out.items():
        if v < 0:
            raise InputError(f"--{k.replace('_', '-')} must be 0 or more, got {v:g}")
    if out["anchor"] > 0 and not (args.init_from or args.resume):
        raise InputError("--anchor holds the generator to the one it starts from: give --init-from")
    if args.l1_only:
        out["mode_seeking"] = 0.0
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train gan``."""
    p = subparsers.add_parser(
        "gan",
        help="train the pathology-conditioned generator",
        description="Train the conditional U-Net generator against a spectrally normalised "
        "PatchGAN. --data sim: paired healthy/diseased windows from the simulator. --data CSV: "
        "unpaired real data: a ChestX-ray14-style CSV ('Image Index', 'Finding Label', "
        "'Bbox [x,y,w,h]'; 'No Finding' rows are the healthy inputs), or the manifest.csv of a "
        "data set exported from napari with lesions painted in its masks (label "
        + ", ".join(f"{v} {p}" for p, v in LABELS.items())
        + "; real images with nothing painted are the healthy inputs; synthetic rows are left "
        "out).",
    )
    p.add_argument(
        "--data", required=True, help="'sim', a ChestX-ray14-style CSV or an export's manifest.csv"
    )
    p.add_argument("--out", required=True, help="model path stem, e.g. models/generator")
    p.add_argument(
        "--mode",
        choices=("paired", "unpaired"),
        default=None,
        help="default: paired for sim, unpaired for a CSV",
    )
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr-g", type=float, default=2e-4)
    p.add_argument("--lr-d", type=float, default=4e-4)
    fine = "; unpaired with --init-from: {:g}"
    p.add_argument(
        "--r1",
        type=float,
        default=None,
        help=f"R1 penalty factor (default {DEFAULTS['r1']:g}{fine.format(FINE_TUNE['r1'])})",
    )
    p.add_argument("--label-smoothing", type=float, default=0.9, help="one-sided: the real target")
    p.add_argument(
        "--l1",
        type=float,
        default=100.0,
        help="L1 weight (reconstruction, or self-regularisation when unpaired)",
    )
    p.add_argument("--feature-matching", action="store_true")
    p.add_argument(
        "--mode-seeking",
        type=float,
        default=None,
        help=f"diversity term weight (default {DEFAULTS['mode_seeking']:g}"
        f"{fine.format(FINE_TUNE['mode_seeking'])})",
    )
    p.add_argument(
        "--anchor",
        type=float,
        default=None,
        help="fine-tuning: L1 weight to the --init-from generator's output (default 0"
        f"{fine.format(FINE_TUNE['anchor'])})",
    )
    p.add_argument(
        "--d-warmup",
        type=int,
        default=None,
        help="the first steps of --steps in which only the discriminator learns (default 0"
        f"{fine.format(FINE_TUNE['d_warmup'])})",
    )
    p.add_argument("--l1-only", action="store_true", help="no adversarial loss (ablation)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="checkpoint stem to continue from")
    p.add_argument(
        "--init-from",
        default=None,
        help="start the generator from these weights (checkpoint stem or model), "
        "e.g. an --l1-only run: the pix2pix warm start",
    )
    p.add_argument("--device", default="auto")
    for flag, what in (
        ("--window", "network window in pixels"),
        ("--base", "generator base channels"),
        ("--depth", "generator down-sampling levels"),
    ):
        default = SHAPE[flag.lstrip("-")]
        help_text = f"{what} (default: the --init-from or --resume generator's, else {default})"
        p.add_argument(flag, type=int, default=None, help=help_text)
    p.add_argument("--d-base", type=int, default=32, help="discriminator base channels")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="stop after this much training time and save (0: run all steps)",
    )
    p.add_argument("--d-scales", type=int, default=1, help="discriminator scales")
    p.add_argument(
        "--d-steps",
        type=int,
        default=None,
        help="discriminator updates per generator update (default "
        f"{DEFAULTS['d_steps']}{fine.format(FINE_TUNE['d_steps'])})",
    )
    p.add_argument("--cases", type=int, default=600, help="sim: simulated chests")
    p.add_argument(
        "--sim-seed",
        type=int,
        default=10_000,
        help="sim: first simulator seed (case k uses sim-seed + k)",
    )
    p.add_argument(
        "--image-px",
        type=int,
        nargs="+",
        default=[512, 768, 1024],
        help="sim: simulated image sides in pixels (cycled)",
    )
    p.add_argument(
        "--cache",
        default=None,
        help="sim: .npz window cache (made if missing, reused if present and made with the same "
        "cases, seeds, window, image sizes and simulator)",
    )
    p.add_argument("--images", default=None, help="CSV: image folder (default: the CSV's)")
    p.add_argument(
        "--spacing",
        type=float,
        default=ASSUMED_SPACING_MM,
        help="CSV: pixel size in mm for images that carry none",
    )
    p.add_argument(
        "--run-dir", default=None, help="checkpoints, sample grid, loss curves (default: OUT_run)"
    )
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.set_defaults(func=run)


def _command(args: argparse.Namespace, mode: str) -> str:
    """The exact command of this run, every setting spelled out (for the card)."""
    parts = [
        "xray-synth",
        "train",
        "gan",
        "--data",
        args.data,
        "--out",
        args.out,
        "--mode",
        mode,
        "--steps",
        args.steps,
        "--batch",
        args.batch,
        "--lr-g",
        args.lr_g,
        "--lr-d",
        args.lr_d,
        "--r1",
        args.r1,
        "--label-smoothing",
        args.label_smoothing,
        "--l1",
        args.l1,
        "--mode-seeking",
        args.mode_seeking,
        "--anchor",
        args.anchor,
        "--d-warmup",
        args.d_warmup,
        "--seed",
        args.seed,
        "--window",
        args.window,
        "--base",
        args.base,
        "--depth",
        args.depth,
        "--d-base",
        args.d_base,
        "--d-scales",
        args.d_scales,
        "--d-steps",
        args.d_steps,
    ]
    if args.max_minutes:
        parts += ["--max-minutes", args.max_minutes]
    if args.data == "sim":
        parts += ["--cases", args.cases, "--sim-seed", args.sim_seed, "--image-px", *args.image_px]
    else:
        parts += ["--spacing", args.spacing] + (["--images", args.images] if args.images else [])
    parts += ["--cache", args.cache] if args.cache else []
    parts += ["--feature-matching"] if args.feature_matching else []
    parts += ["--l1-only"] if args.l1_only else []
    parts += ["--resume", args.resume] if args.resume else []
    parts += ["--init-from", args.init_from] if args.init_from else []
    return " ".join(shlex.quote(str(p)) for p in parts)


def run(args: argparse.Namespace) -> int:
    """Prepare the windows, train, save the generator and its card."""
    from napari_xray_synth.cli.progress_bar import progress_bar
    from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint
    from napari_xray_synth.core.train.distributed import distributed_context
    from napari_xray_synth.core.train.gan import GanConfig, GanTrainer
    from napari_xray_synth.core.train.gan_data import (
        WindowSet,
        check_windows,
        csv_windows,
        load_windows,
        save_windows,
        sim_windows,
    )

    if args.data != "sim" and not Path(args.data).is_file():
        raise InputError("no such file (give 'sim' or a CSV)", args.data)
    mode = args.mode or ("paired" if args.data == "sim" else "unpaired")
    if mode == "paired" and args.data != "sim":
        raise InputError("paired mode needs --data sim (real data has no healthy twin)")
    # resolved once, onto args: the windows, the config and the card's command agree
    for k, v in {**shape(args), **settings(args, mode)}.items():
        setattr(args, k, v)
    cfg = GanConfig(
        mode=mode,
        steps=args.steps,
        batch=args.batch,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        r1=args.r1,
        label_smoothing=args.label_smoothing,
        l1=args.l1,
        feature_matching=args.feature_matching,
        mode_seeking=args.mode_seeking,
        anchor=args.anchor,
        d_warmup=int(args.d_warmup),
        l1_only=args.l1_only,
        seed=args.seed,
        window=args.window,
        g_base=args.base,
        g_depth=args.depth,
        d_base=args.d_base,
        d_scales=args.d_scales,
        d_steps=int(args.d_steps),
        max_minutes=args.max_minutes,
        sample_every=args.checkpoint_every,
        checkpoint_every=args.checkpoint_every,
    )
    out = Path(args.out)
    run_dir = Path(args.run_dir) if args.run_dir else out.parent / f"{out.name}_run"
    real = None
    with progress_bar("preparing windows") as prog:
        if args.data == "sim":
            made_with = {
                "cases": args.cases,
                "sim_seed": args.sim_seed,
                "window": args.window,
                "image_px": list(args.image_px),
                "simulator": simulator_fingerprint(),
            }
            if args.cache and Path(args.cache).is_file():
                check_windows(args.cache, made_with)
                data = load_windows(args.cache)
            else:
                data = sim_windows(
                    args.cases, args.sim_seed, args.window, args.image_px, progress=prog
                )
                if args.cache:
                    save_windows(data, args.cache, made_with)
            source = f"simulator seeds {args.sim_seed}..{args.sim_seed + args.cases - 1}"
            if mode == "unpaired":  # healthy inputs and diseased reals from different chests
                h = len(data) // 2
                real = WindowSet(
                    data.y[h:],
                    data.maps[h:],
                    data.feather[h:],  # type: ignore
                    data.mask[h:],
                    None,
                    data.pathology[h:],
                )  # type: ignore
                data = WindowSet(
                    data.x[:h],
                    data.maps[:h],
                    data.feather[:h],
                    data.mask[:h],
                    None,
                    data.pathology[:h],
                )  # type: ignore
        else:
            data, real = csv_windows(
                args.data, args.window, args.seed, args.spacing, args.images, progress=prog
            )
            source = f"{args.data} ({len(data)} healthy, {len(real)} labelled windows)"
    # one process, or one of many under torchrun: gradients averaged, rank 0 alone writes
    with distributed_context(args.device) as ctx:
        trainer = GanTrainer(cfg, data, real, args.device, ctx=ctx)
        init = None
        if args.init_from:
            init = trainer.init_generator(args.init_from)
        if args.resume:
            trainer.load_checkpoint(Path(args.resume))
        print(
            f"training {mode}{' l1-only' if args.l1_only else ''} on {len(data)} windows "
            f"({source}), device {trainer.device}",
            file=sys.stderr,
        )

        def log(logs: dict[str, float]) -> None:
            if int(logs["step"]) % 50 == 0:
                msg = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k != "step")
                print(f"step {int(logs['step'])}: {msg}", file=sys.stderr, flush=True)

        if ctx.is_main and real is not None and args.data != "sim" and len(real) < FEW_LESIONS:
            print(
                f"warning: {args.data}: only {len(real)} labelled lesions; the "
                "discriminator will learn them by heart and the generator will copy "
                f"whatever they share. Fine-tuning needs several hundred (>= {FEW_LESIONS}).",
                file=sys.stderr,
            )
        with progress_bar("training") as prog:
            trainer.run(run_dir, progress=prog, on_log=log)
        if ctx.is_main and trainer.step <= cfg.d_warmup:
            print(
                f"warning: the run stopped at step {trainer.step}, inside the discriminator "
                f"warm-up ({cfg.d_warmup} steps): the generator written is the one it started "
                "from",
                file=sys.stderr,
            )
        if not ctx.is_main:
            ctx.barrier()  # rank 0 writes the generator and its card
            return 0
        command = _command(args, mode)
        card = {
            "task": "pathology-conditioned variants (residual in a window; see core/synth_gan.py)",
            "command": command,
            "data": source,
            "seed": args.seed,
            "metrics": {"note": "measured on held-out data by benchmarks/eval_synth.py"},
            "initialised_from": init,
            "final_losses": trainer.history[-1] if trainer.history else {},
            "train_seconds": round(getattr(trainer, "seconds", 0.0), 1),
            "device": str(trainer.device),
            "processes": ctx.world_size,
        }
        path = trainer.save_generator(out, card)
        print(
            f"wrote {path} and {path.with_suffix('.json').name}; run files in {run_dir}",
            file=sys.stderr,
        )
        ctx.barrier()
    return 0
