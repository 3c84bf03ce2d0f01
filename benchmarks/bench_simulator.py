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


def bench(size: int, n: int, pathology: str | None) -> tuple[float, float]:
    """Cases per second over ``n`` calls (after one warm-up call): wall clock and CPU time.

    On a shared machine the wall clock counts time other jobs held the core; the process CPU
    time is what one core spends on the work.
    """
    simulate_chest(0, size, pathology)
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        simulate_chest(1000 + i, size, pathology)
    return n / (time.perf_counter() - t), n / (time.process_time() - c)


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
    print(
        "| size | pathology | cases/s (CPU time) | ms/case (CPU) | cases/s (wall) | target | met |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for pathology in (None, "random"):
            wall, cpu = bench(size, args.n, pathology)
            target = TARGETS.get(size)
            met = "" if target is None else ("yes" if cpu >= target else "NO")
            print(
                f"| {size}² | {pathology or 'none'} | {cpu:.2f} | {1000 / cpu:.0f} | "
                f"{wall:.2f} | {'' if target is None else f'≥{target:g}/s'} | {met} |"
            )
    print()
    print(
        f"load average during the run: {os.getloadavg()[0]:.1f} "
        f"(cases: one simulate_chest call each = healthy and diseased, clean and noisy)"
    )


if __name__ == "__main__":
    main()
