"""``xray-synth train denoiser``: train the denoiser and save it with its card."""

from __future__ import annotations

import argparse
import shlex

from napari_xray_synth.cli.progress_bar import progress_bar


def _net_arg(text: str) -> dict[str, int]:
    try:
        c1, c2, depth = (int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected C1,C2,DEPTH, got {text!r}") from exc
    return {"c1": c1, "c2": c2, "depth": depth}


def _command(args: argparse.Namespace) -> str:
    """The exact command, every option spelled out (what the model card records)."""
    parts = ["xray-synth", "train", "denoiser"]
    for opt in (
        "data",
        "out",
        "mode",
        "steps",
        "batch",
        "patch",
        "lr",
        "seed",
        "device",
        "sim_images",
        "sim_size",
        "heldout_size",
        "checkpoint_every",
    ):
        parts += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    if args.net:
        parts += ["--net", ",".join(str(args.net[k]) for k in ("c1", "c2", "depth"))]
    if args.workdir:
        parts += ["--workdir", args.workdir]
    if args.resume:
        parts += ["--resume", args.resume]
    return shlex.join(parts)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train denoiser`` to the command line."""
    p = subparsers.add_parser(
        "denoiser",
        help="train the denoiser (simulator pairs, clean images, or Noise2Void on noisy ones)",
        description=(
            "Train the denoiser. --data sim: simulator clean/noisy pairs across doses; "
            "--data DIR: a folder of clean images, noise synthesized with the simulator's "
            "physics; --mode n2v --data DIR: a folder of noisy images only (self-supervised)."
        ),
    )
    p.add_argument("--data", required=True, help="'sim' or a folder of images")
    p.add_argument("--out", required=True, help="model path stem, e.g. models/denoiser")
    p.add_argument("--mode", choices=("supervised", "n2v"), default="supervised")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=96, help="patch side in pixels (multiple of 4)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="run folder or checkpoint to continue from")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--workdir", default="", help="run folder (default runs/<name>)")
    p.add_argument("--sim-images", type=int, default=24, help="simulator cases to train on")
    p.add_argument("--sim-size", type=int, default=512, help="simulator image side")
    p.add_argument("--heldout-size", type=int, default=512, help="held-out image side")
    p.add_argument("--heldout-cases", type=int, default=3, help="held-out simulator cases")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument(
        "--net",
        type=_net_arg,
        default=None,
        metavar="C1,C2,DEPTH",
        help="network size: channels at 1/2 and 1/4 resolution, convolutions at 1/4 "
        "(default 16,48,4)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the training and print where the model went and its held-out metrics."""
    from napari_xray_synth.core.train.denoiser import DenoiserTrainConfig, train_denoiser

    cfg = DenoiserTrainConfig(
        data=args.data,
        out=args.out,
        mode=args.mode,
        steps=args.steps,
        batch=args.batch,
        patch=args.patch,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        sim_images=args.sim_images,
        sim_size=args.sim_size,
        heldout_size=args.heldout_size,
        heldout_cases=args.heldout_cases,
        checkpoint_every=args.checkpoint_every,
        workdir=args.workdir,
        command=_command(args),
    )
    if args.net:
        cfg.net = args.net
    with progress_bar("training denoiser", quiet=args.quiet) as bar:
        card = train_denoiser(cfg, resume=args.resume, progress=bar)
    if not card:  # another rank of a torchrun run: rank 0 wrote and reports
        return 0
    print(f"model: {card['weights']}  (run folder: {card['workdir']})")
    for k, v in card["metrics"].get("heldout_simulator", {}).items():
        if k.startswith("dose="):
            print(
                f"  held-out {k}: PSNR {v['psnr_noisy']:.2f} -> {v['psnr_denoised']:.2f} dB, "
                f"SSIM {v['ssim_noisy']:.3f} -> {v['ssim_denoised']:.3f}"
            )
    return 0
