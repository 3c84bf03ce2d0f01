"""Simulator throughput on ONE core: cases per second at 512² and 1024², lesions and noise on.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_simulator.py [--n 20]``. Each case is one
``simulate_chest`` call with a random pathology: the phantom, the healthy and the diseased
image, each clean and noisy, and the mask. The thread variables are set before numpy loads.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from napari_xray_synth.core.simulate import simulate_chest  # noqa: E402

TARGETS = {512: 10.0, 1024: 2.0}


def bench(size: int, n: int, pathology: str | None) -> float:
    """Cases per second over ``n`` calls (after one warm-up call)."""
    simulate_chest(0, size, pathology)
    t = time.perf_counter()
    for i in range(n):
        simulate_chest(1000 + i, size, pathology)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20, help="cases per size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread"
    )
    print()
    print("| size | pathology | cases/s | ms/case | target | met |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        for pathology in (None, "random"):
            rate = bench(size, args.n, pathology)
            target = TARGETS.get(size)
            met = "" if target is None else ("yes" if rate >= target else "NO")
            print(
                f"| {size}² | {pathology or 'none'} | {rate:.2f} | {1000 / rate:.0f} | "
                f"{'' if target is None else f'≥{target:g}/s'} | {met} |"
            )


if __name__ == "__main__":
    main()
