"""``python -m napari_xray_synth.cli``."""

import sys

from napari_xray_synth.cli import main

sys.exit(main())
