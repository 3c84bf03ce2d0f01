"""Which images a simulator seed gives: a fingerprint of the simulator's sources.

Anything made from the simulator (a classifier's training data, the GAN's window cache, a
benchmark's held-out cases) records it, so that a later change of the simulator is noticed.
It lives outside ``core/simulate`` because it hashes that package's files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def simulator_fingerprint() -> str:
    """sha256 of the simulator's and the condition renderer's sources: which images a seed gave."""
    from napari_xray_synth.core import conditions, simulate

    h = hashlib.sha256()
    files = [*sorted(Path(simulate.__file__).parent.glob("*.py")), Path(conditions.__file__)]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()
