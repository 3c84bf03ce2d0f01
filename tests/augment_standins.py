"""A stand-in plugged into ``augment`` by the kill test (the ``module:function`` plug point).

``slow_synthesize`` is the real synthesizer with a pause per call, so that a test can kill a run
in the middle.
"""

from __future__ import annotations

import os
import time

from napari_xray_synth.core.synthesize import synthesize


def slow_synthesize(*args, **kwargs):
    """The real synthesizer, after a pause of $AUGMENT_TEST_DELAY seconds."""
    time.sleep(float(os.environ.get("AUGMENT_TEST_DELAY", "0.3")))
    return synthesize(*args, **kwargs)
