"""Pathology-conditioned variants of a radiograph: the conditional GAN or the physics method.

``synthesize(radiograph, conditions, n_variants, seed, method)`` returns :class:`Variant` s, each
a new synthetic :class:`Radiograph` (with its provenance), its label mask (from the one renderer,
``conditions.label_mask``), its conditions and its seed. Variant ``k`` draws everything random
from a seed derived from ``(seed, k)`` alone, so :func:`synthesize_one` regenerates one variant
exactly as the batch made it.

Work is local: each condition changes only a window around it (``synth_window``), so the cost
follows the lesions, not the image size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_xray_synth.core.conditions import LABELS, Condition
from napari_xray_synth.core.density_cap import (
    CAPPED,
    CAPPED_AT_HEART,
    RULE,
    TissueLevels,
    abutting_level,
    cap_to_level,
    heart_level,
    lower_levels,
    soft_tissue_level,
)
from napari_xray_synth.core.errors import InputError, PlacementError
from napari_xray_synth.core.lung_field import LungFields, estimate_lung_fields
from napari_xray_synth.core.models import TRAIN_HINTS
from napari_xray_synth.core.pleural_finish import FINISHED, finish_pneumothorax, markings
from napari_xray_synth.core.pleural_finish import RULE as FINISH_RULE
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM, Provenance, Radiograph
from napari_xray_synth.core.simulate.pathology import REGION_PATHOLOGIES
from napari_xray_synth.core.synth_physics import PHYSICS_ID, add_lesion, contrast_scale
from napari_xray_synth.core.synth_window import (
    condition_box,
    label_mask_local,
    local_condition,
    soft_mask_in_box,
    spacing_scalar,
)

METHODS: tuple[str, ...] = ("gan", "physics")
#: The most variants one call of the CLI or the widget makes: all are held in memory (about
#: 5 MB each at 1024 x 1024); more come from more calls with other seeds, or from ``augment``.
MAX_VARIANTS = 64
#: Pixel size assumed when an image carries none (a typical CR/DX detector pitch).
DEFAULT_SPACING_MM = ASSUMED_SPACING_MM
DEFAULT_MODEL = "generator"

TRAIN_HINTS.setdefault(DEFAULT_MODEL, "xray-synth train gan --data sim --out models/generator")
TRAIN_HINTS.setdefault(
    "generator_l1only", "xray-synth train gan --data sim --l1-only --out models/generator_l1only"
)


@dataclass(frozen=True)
class Variant:
    """One synthesized variant.

    Attributes
    ----------
    radiograph : Radiograph
        The new image (``synthetic=True``; its last provenance step is "synthesize").
    mask : ndarray
        uint8 label image, values from ``conditions.LABELS`` (0 = background).
    conditions : tuple of Condition
        What was put in.
    seed : int
        The variant's own seed (derived from the batch seed and its index).
    """

    radiograph: Radiograph
    mask: np.ndarray
    conditions: tuple[Condition, ...]
    seed: int


def variant_seed(seed: int, index: int) -> int:
    """The seed of variant ``index`` of a batch with ``seed``: independent of the batch size."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def _check_inputs(
    radiograph: Any, conditions: Sequence[Condition], method: str
) -> tuple[Radiograph, tuple[Condition, ...]]:
    if isinstance(radiograph, np.ndarray):
        radiograph = Radiograph(radiograph)  # refuses 3-D arrays with a clear message
    if not isinstance(radiograph, Radiograph):
        raise InputError(f"expected a Radiograph, got {type(radiograph).__name__}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    conds = tuple(conditions)
    if not conds:
        raise InputError("no lesion given: add at least one condition (a point)")
    for c in conds:
        if not isinstance(c, Condition):
            raise InputError(f"expected a Condition, got {type(c).__name__}")
        c.check_inside(radiograph.shape)
    return radiograph, conds


def _check_count(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"{name} must be a whole number of 0 or more, got {n!r}")
    return int(n)


#: What ``synthesize`` takes as ``regions``.
Regions = Sequence[np.ndarray | None] | str | LungFields | None


def lung_regions(
    fields: LungFields, conds: Sequence[Condition], px: float
) -> tuple[list[np.ndarray | None], tuple[Condition, ...]]:
    """Per condition, the lesion region of its lung (:meth:`LungFields.lesion_region`), None for
    pathologies that are not clipped; and the conditions with their side fixed.

    A condition without a side gets the side of the lung field that holds its centre (or the
    nearer one), not the side of the image's centre column: the patient need not be centred.
    """
    regions: list[np.ndarray | None] = []
    out: list[Condition] = []
    for c in conds:
        if c.pathology not in REGION_PATHOLOGIES:
            regions.append(None)
            out.append(c)
            continue
        side = c.side or fields.side_at(c.center)
        regions.append(fields.lesion_region(side, px, c.pathology))
        out.append(c if c.side == side else dataclasses.replace(c, side=side))
    return regions, tuple(out)


def _kept_fractions(
    conds: Sequence[Condition],
    mask: np.ndarray,
    px: float,
    regions: Sequence[np.ndarray | None],
) -> list[float]:
    """Per condition, the share of its unclipped area that its region left in the label
    ``mask`` already drawn (1 for an unclipped one); a condition left with nothing is refused.

    Read from the drawn mask (its label inside its box), not drawn again; a second lesion of
    the same pathology overlapping the box counts towards it.
    """
    kept = []
    for c, region in zip(conds, regions, strict=True):
        if region is None:
            kept.append(1.0)
            continue
        box = condition_box(c, mask.shape, px)
        inside = int((mask[box.slices] == LABELS[c.pathology]).sum())
        if not inside:
            r, col = c.center
            raise PlacementError(
                f"the {c.size_mm:g} mm {c.pathology} at row {r:.0f}, column {col:.0f} falls "
                "outside the lung field, so nothing of it would be drawn; move it into the "
                "lung, make it larger, or switch lung clipping off"
            )
        full = int((label_mask_local([c], mask.shape, px, None) > 0).sum())
        kept.append(min(inside / full, 1.0) if full else 1.0)
    return kept


#: Below this share of its unclipped area left by the lung region, a lesion is worth a warning.
SLIVER = 0.5


def clipped_to_sliver(variant: Variant) -> list[str]:
    """One line per lesion of ``variant`` that lung clipping left with less than
    :data:`SLIVER` of its area (for front ends to warn with)."""
    step = variant.radiograph.provenance[-1]
    kept = step.parameters.get("lesion_area_kept") or []
    return [
        f"the {c.size_mm:g} mm {c.pathology} at row {c.center[0]:.0f}, column "
        f"{c.center[1]:.0f} keeps {k:.0%} of its area inside the lung field: move it into "
        "the lung, or switch lung clipping off"
        for c, k in zip(variant.conditions, kept, strict=False)
        if k < SLIVER
    ]


class _Engine:
    """Everything shared by the variants of one call: spacing, contrast, the loaded model."""

    def __init__(
        self,
        rg: Radiograph,
        conds: tuple[Condition, ...],
        method: str,
        model: str,
        device: str,
        regions: Regions,
    ) -> None:
        self.rg, self.conds, self.method = rg, conds, method
        self.assumed = rg.spacing is None
        self.px = DEFAULT_SPACING_MM if rg.spacing is None else spacing_scalar(rg.spacing)
        self.region_note: str | None = None
        fields: LungFields | None = None
        if isinstance(regions, str) and regions != "lung":
            raise InputError(f"regions must be 'lung', a list of masks or None, not {regions!r}")
        if regions == "lung" or isinstance(regions, LungFields):
            fields = regions if isinstance(regions, LungFields) else None
            if any(c.pathology in REGION_PATHOLOGIES for c in conds):
                fields = fields or estimate_lung_fields(rg.image)
                regions, conds = lung_regions(fields, conds, self.px)
                self.conds = conds
                self.region_note = f"lung field estimated from the image ({fields.method})"
            else:
                regions = None
        elif regions is not None and any(r is not None for r in regions):
            self.region_note = "given"
        self.regions = regions
        if regions is not None and len(regions) != len(conds):
            raise InputError(f"{len(regions)} regions for {len(conds)} conditions")
        self.scale = contrast_scale(rg.image)
        self.mask = label_mask_local(conds, rg.shape, self.px, regions)
        self.kept: list[float] | None = None
        if regions is not None:
            self.kept = _kept_fractions(conds, self.mask, self.px, regions)
        self.gan: Any = None
        if method == "gan":
            from napari_xray_synth.core.synth_gan import GanEngine, make_window

            self.gan = GanEngine.load(model, device)
            # window geometry and maps do not depend on the variant: made once
            self.windows = [
                make_window(rg.image, c, self.px, self.gan.size, self._region(i))
                for i, c in enumerate(conds)
            ]
        # both methods: fluid is no brighter than the tissue it replaces air beside
        self.levels = self._tissue_levels(fields)
        # the physics method draws every lesion in its box; the GAN's pneumothoraces are
        # finished in theirs (pleural_finish)
        drawn = [method != "gan" or c.pathology in FINISHED for c in conds]
        self.boxes = [
            condition_box(c, rg.shape, self.px) if d else None
            for c, d in zip(conds, drawn, strict=True)
        ]
        self.softs = [
            None if b is None else soft_mask_in_box(c, b, rg.shape, self.px, self._region(i))
            for i, (c, b) in enumerate(zip(conds, self.boxes, strict=True))
        ]
        # a clipped consolidation's outline before the cut and the region, for the physics
        # method's silhouette sign
        self.cuts = [
            (soft_mask_in_box(c, b, rg.shape, self.px), self._region(i)[b.slices])
            if method == "physics"
            and c.pathology == "consolidation"
            and self._region(i) is not None
            else (None, None)
            for i, (c, b) in enumerate(zip(conds, self.boxes, strict=True))
        ]
        # the first lesion's "before" is the film itself in every variant: its markings once
        first = self.boxes[0] if method == "gan" and conds else None
        self.first_marks = None if first is None else markings(rg.image[first.slices], self.px)

    def _region(self, i: int) -> np.ndarray | None:
        return None if self.regions is None else self.regions[i]

    def _tissue_levels(self, fields: LungFields | None) -> list[TissueLevels | None]:
        """Per condition, the brightness its lesion is held to (:mod:`density_cap`): the GAN's
        effusion, consolidation and enlarged heart, the physics method's first two (its heart
        fills to the old heart's level by itself)."""
        capped = CAPPED | CAPPED_AT_HEART if self.method == "gan" else CAPPED
        if not any(c.pathology in capped for c in self.conds):
            return [None] * len(self.conds)
        fields = fields or estimate_lung_fields(self.rg.image)
        levels: list[TissueLevels | None] = []
        for i, c in enumerate(self.conds):
            if c.pathology in CAPPED:
                side = c.side or fields.side_at(c.center)
                level = soft_tissue_level(self.rg.image, fields, side, self.px)
                if c.pathology == "consolidation":
                    # this consolidation's own mask: another one elsewhere has its own neighbours
                    own = label_mask_local([c], self.rg.shape, self.px, [self._region(i)]) > 0
                    abut = abutting_level(self.rg.image, fields, own, self.px)
                    level = lower_levels(level, abut)
                levels.append(level)
            elif c.pathology in capped:  # an enlarged heart, for the GAN
                mask = self.mask == LABELS[c.pathology]
                levels.append(heart_level(self.rg.image, fields, mask))
            else:
                levels.append(None)
        return levels

    def variant(self, index: int, seed: int, n_variants: int) -> Variant:
        vseed = variant_seed(seed, index)
        img = self.rg.image.copy()
        shape = self.rg.shape
        for i, cond in enumerate(self.conds):
            rng = np.random.default_rng([vseed, i])
            if self.gan is not None:
                before = img
                img = self.gan.apply(
                    img, cond, self.px, self.scale, rng, self._region(i), self.windows[i]
                )
                if self.levels[i] is not None:
                    img = cap_to_level(
                        before, img, self.levels[i], self.px, self.windows[i].box(shape)
                    )
                box = self.boxes[i]
                if box is not None:
                    local = local_condition(cond, box, shape)
                    img[box.slices] = finish_pneumothorax(
                        before[box.slices],
                        img[box.slices],
                        self.softs[i],
                        local,
                        self.px,
                        self.scale,
                        marks=self.first_marks if i == 0 else None,
                    )
            else:
                box = self.boxes[i]
                local = local_condition(cond, box, shape)
                free, region = self.cuts[i]
                level = None if self.levels[i] is None else self.levels[i].level
                img[box.slices] = add_lesion(
                    img[box.slices],
                    self.softs[i],
                    local,
                    self.px,
                    self.scale,
                    rng,
                    free,
                    region,
                    level,
                )
        params: dict[str, Any] = {
            "method": self.method,
            "conditions": [c.to_dict() for c in self.conds],
            "variant_index": index,
            "n_variants": n_variants,
            "batch_seed": seed,
            "spacing_mm": self.px,
        }
        if self.assumed:
            params["spacing_assumed_mm"] = DEFAULT_SPACING_MM
        if self.region_note:
            params["lesion_region"] = self.region_note
        if self.kept is not None:
            # per condition, the share of its mask the region left: a user is warned below 1/2
            params["lesion_area_kept"] = [round(k, 3) for k in self.kept]
        if self.gan is not None:
            params.update(self.gan.parameters())
            if any(v is not None for v in self.levels):
                params["density_cap"] = RULE
                params["density_cap_levels"] = [
                    None if v is None else [round(v.level, 4), round(v.top, 4)] for v in self.levels
                ]
            if any(b is not None for b in self.boxes):
                params["pneumothorax_finish"] = FINISH_RULE
            model_id, sha = self.gan.model_id, self.gan.sha256
        else:
            model_id, sha = PHYSICS_ID, None
        step = Provenance("synthesize", params, model_id=model_id, model_sha256=sha, seed=vseed)
        out = self.rg.derive(img, step, synthetic=True)
        return Variant(out, self.mask.copy(), self.conds, vseed)


def synthesize(
    radiograph: Radiograph,
    conditions: Sequence[Condition],
    n_variants: int = 1,
    seed: int = 0,
    method: str = "gan",
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    regions: Regions = None,
) -> list[Variant]:
    """Make ``n_variants`` variants of ``radiograph`` with ``conditions`` put in.

    Parameters
    ----------
    radiograph : Radiograph
        The input (never modified). Without a pixel spacing, :data:`DEFAULT_SPACING_MM` is
        assumed and recorded in the provenance.
    conditions : sequence of Condition
        The lesions (centres inside the image; sizes are checked by ``Condition``).
    n_variants : int
        How many variants (1 or more).
    seed : int
        Batch seed; variant ``k`` uses ``variant_seed(seed, k)``.
    method : "gan" or "physics"
        The trained conditional generator, or the no-learning physics baseline.
    model : str
        Generator model name or path (for "gan").
    device : str
        "auto", "cpu", "cuda" or "mps" (for "gan").
    progress, cancel
        The core's progress callback and cancel token.
    regions : "lung", LungFields, sequence of (ndarray or None), or None
        Per condition, where it may be (a lung field): clips effusion, pneumothorax and
        consolidation as the simulator does. "lung": the lung fields estimated from the image;
        a ``LungFields``: those (both through :meth:`LungFields.lesion_region`, for films with
        no anatomy of their own; the provenance says so, and a condition without a side gets
        the side of the lung it is in). None: no clipping.

    Returns
    -------
    list of Variant

    Raises
    ------
    InputError
        3-D input, no conditions, centres outside the image, zero variants, bad method.
    ModelError
        The generator's weights are missing or changed (the message names the training command).
    """
    n = _check_count(n_variants, "the number of variants")
    if n == 0:
        raise InputError("the number of variants must be 1 or more, got 0")
    return [
        v
        for v in _run(
            radiograph,
            conditions,
            range(n),
            n,
            seed,
            method,
            model,
            device,
            progress,
            cancel,
            regions,
        )
    ]


def synthesize_one(
    radiograph: Radiograph,
    conditions: Sequence[Condition],
    variant_index: int = 0,
    seed: int = 0,
    method: str = "gan",
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    regions: Regions = None,
    n_variants: int | None = None,
) -> Variant:
    """Regenerate variant ``variant_index`` of a batch alone: identical to the batch's one.

    ``n_variants`` only goes into the provenance (the batch size the variant belongs to).
    """
    k = _check_count(variant_index, "the variant index")
    n = k + 1 if n_variants is None else max(_check_count(n_variants, "n_variants"), k + 1)
    return _run(
        radiograph, conditions, [k], n, seed, method, model, device, progress, cancel, regions
    )[0]


def _run(
    radiograph: Radiograph,
    conditions: Sequence[Condition],
    indices: Sequence[int],
    n_variants: int,
    seed: int,
    method: str,
    model: str,
    device: str,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    regions: Regions,
) -> list[Variant]:
    seed = _check_count(seed, "the seed")
    rg, conds = _check_inputs(radiograph, conditions, method)
    check_cancel(cancel)
    engine = _Engine(rg, conds, method, model, device, regions)
    out = []
    report(progress, 0, len(indices))
    for j, k in enumerate(indices):
        check_cancel(cancel)
        out.append(engine.variant(k, seed, n_variants))
        report(progress, j + 1, len(indices))
    return out
