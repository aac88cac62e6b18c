"""Realism report: the generator's images against published anchors.

``python benchmarks/realism.py [--num-patients N] [--image-size S] [--seed K] [--quick]``

Generates a cohort in memory (``generate_patient``, in a process pool), measures each
patient's images through its label maps, and prints one markdown row per property: the
measured value, its published anchor (the number and its source, as
``../shared/REFERENCE.md`` and ``../shared/ANATOMY.md`` give them) and PASS/FAIL.
Without ``--quick`` the table is also written to the ``realism`` section of
``benchmarks/results.md``. Many rows FAIL on the current generator: the report says
where the images are not yet realistic; its anchors are never adjusted to make a row
pass.

How a row passes: a published range passes inside the range; a single published value
("about X") passes within +-20 % of it (``ABOUT_TOLERANCE``, one rule for every such
row); an ordering passes when every step of it holds; a published difference
("women carry more", "does not rise") has its own bound, named in the row.

What is measured (mm per pixel from ``generator.physical_space``):

- CT: ``Patient.physical["CT"]`` (Hounsfield units before the W400/L40 window). Organ
  pixels come from the CT label map, eroded by about 2.5 mm (2 pixels at 224) against
  partial volume; trabecular bone by about 6 mm (inside the cortex). A patient's organ
  value is the mean over its pixels; a row gives the cohort mean, the SD between
  patients and the median SD over a patient's pixels (ROI SD: mostly noise). Noise:
  the SD of the HU inside the eroded liver (an ROI SD, as clinical noise is measured;
  the liver's own texture adds 2-4 HU in quadrature), median over patients. Noise
  power spectrum: periodograms of mean-removed tiles of about 51 mm (32 pixels at 224)
  lying wholly in the air outside the body (noise only), averaged, radially binned,
  peak located by a parabola through the highest bin and its neighbours, in cycles/mm.
- T2 MRI: ``images["MRI"]``, the magnitude image, not normalised per patient (only
  clipped at 1). Organ means in eroded label-map regions, as ratios to the same
  patient's liver, medians over the F0 patients (the anchors are normal tissue).
  Background: mean/SD of the magnitude in the air (label 0) at least ~5 mm from the
  body; Rayleigh gives sqrt(pi/2) / sqrt(2 - pi/2) = 1.913.
- Ultrasound: ``images["US"]`` is log-compressed (``generator.ultrasound``: 60 dB shown
  below 31 dB). The intensity is recovered by inverting that mapping
  (``us_intensity``) and the envelope is its square root; m = E[R^2]^2 / Var(R^2) (the
  moment estimator) in windows of about 12 mm wholly inside the eroded liver, median
  over windows per patient, median over patients per stage. Below 96 pixels the
  generator block-averages the compressed image, which no inversion undoes.
- Morphology: caudate/right-lobe ratio and surface nodularity from the anatomy records
  (``Anatomy.caudate_right_ratio``, ``Anatomy.surface_nodularity``; the label map does
  not separate the lobes); spleen area and long axis (4 x the SD of its pixels along
  its principal axis: exact for an ellipse) from the CT label map.
- Habitus (CT label map): body bounding box (AP x LAT, effective diameter
  sqrt(AP x LAT)), subcutaneous fat thickness as the equivalent-circle layer depth
  sqrt(A_body / pi) - sqrt((A_body - A_fat) / pi), muscle area; by sex.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.stats

from benchmarks.common import (
    add_cohort_arguments,
    cohort_parameters,
    describe_machine_markdown,
    eroded,
    machine_description,
    markdown_table,
    process_pool,
    replace_section,
)
from generator import label_ids as L
from generator import ultrasound
from generator.contract import DEFAULT_IMAGE_SIZE, DEFAULT_SEED, STAGES
from generator.patient import generate_patient
from generator.physical_space import pixel_spacing_mm

DEFAULT_NUM_PATIENTS = 300
QUICK = {"num_patients": 40, "image_size": 64}
SECTION = "realism"

#: A single published value ("about X") passes within this relative distance of it.
ABOUT_TOLERANCE = 0.20
#: Erosion depths, mm: organ edges (partial volume and blur), inside the bone cortex,
#: and away from the body for the air background.
EDGE_MM, BONE_MM, AIR_MM = 2.5, 6.0, 5.0
#: Side of the CT noise-power tiles and of the ultrasound Nakagami windows, mm.
NPS_TILE_MM, NAKAGAMI_WINDOW_MM = 51.0, 12.0
#: Fewest pixels for an organ measurement to count.
MIN_PIXELS = 4

REF = "REFERENCE.md"
ANA = "ANATOMY.md"


# ------------------------------------------------------------------------ anchors, rows


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A published anchor: the interval a measured value must fall in to PASS.

    ``low``/``high``: bounds (``None``: unbounded), inclusive unless ``low_open``;
    ``text``: the anchor as the table shows it; ``source``: where it comes from.
    """

    low: float | None
    high: float | None
    text: str
    source: str
    low_open: bool = False

    @classmethod
    def about(cls, value: float, text: str, source: str) -> Anchor:
        """A single published value: PASS within ``ABOUT_TOLERANCE`` of it."""
        span = abs(value) * ABOUT_TOLERANCE
        return cls(value - span, value + span, f"{text} (PASS +-20 %)", source)

    def passes(self, value: float) -> bool:
        """Whether ``value`` (finite) lies in the anchor's interval."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high


@dataclasses.dataclass(frozen=True)
class Row:
    """One property of the report: its measured value and its anchor."""

    group: str
    name: str
    value: float  # the number compared with the anchor
    measured: str  # how the table shows it (value and context)
    anchor: Anchor

    @property
    def measurable(self) -> bool:
        """Whether the cohort gave a value (a structure may be too small at low sizes)."""
        return math.isfinite(self.value)

    @property
    def passed(self) -> bool:
        return self.anchor.passes(self.value)

    @property
    def result(self) -> str:
        if not self.measurable:
            return "n/a"
        return "PASS" if self.passed else "FAIL"


TABLE_HEADER = ("group", "property", "measured", "anchor", "source", "result")


def table_markdown(rows: Sequence[Row]) -> str:
    """The report as a markdown table (``TABLE_HEADER``)."""
    return markdown_table(
        TABLE_HEADER,
        [(r.group, r.name, r.measured, r.anchor.text, r.anchor.source, r.result) for r in rows],
    )


# --------------------------------------------------------------------------- estimators


def erosion_steps(depth_mm: float, spacing_mm: float) -> int:
    """Pixels of erosion for ``depth_mm`` at ``spacing_mm`` per pixel: at least 1."""
    return max(1, round(depth_mm / spacing_mm))


def rayleigh_ratio(values: np.ndarray) -> float:
    """Mean / SD of ``values``: 1.913 for a Rayleigh (Rician background) sample."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean() / values.std())


#: Mean/SD of a Rayleigh distribution: sqrt(pi/2) / sqrt(2 - pi/2).
RAYLEIGH_RATIO = math.sqrt(math.pi / 2) / math.sqrt(2 - math.pi / 2)


def nakagami_m(envelope: np.ndarray) -> float:
    """Moment estimate of the Nakagami shape m = E[R^2]^2 / Var(R^2) of an envelope R."""
    power = np.asarray(envelope, dtype=np.float64) ** 2
    variance = power.var()
    return float(power.mean() ** 2 / variance) if variance > 0 else math.nan


def windowed_nakagami(envelope: np.ndarray, mask: np.ndarray, window: int) -> float:
    """Median of ``nakagami_m`` over the non-overlapping ``window`` x ``window`` tiles of
    ``envelope`` that lie wholly inside ``mask``; NaN if none does."""
    size_y, size_x = envelope.shape
    rows, cols = size_y // window, size_x // window
    if rows == 0 or cols == 0:
        return math.nan
    crop = (slice(0, rows * window), slice(0, cols * window))
    tiles = envelope[crop].reshape(rows, window, cols, window).swapaxes(1, 2)
    inside = mask[crop].reshape(rows, window, cols, window).all(axis=(1, 3))
    if not inside.any():
        return math.nan
    power = tiles[inside].reshape(int(inside.sum()), -1).astype(np.float64) ** 2
    m = power.mean(axis=1) ** 2 / power.var(axis=1)
    return float(np.median(m))


def us_intensity(display: np.ndarray) -> np.ndarray:
    """Invert the ultrasound display mapping: [0, 1] image -> echo intensity (linear).

    ``generator.ultrasound`` shows ``10 log10(I + 1e-6)`` dB over ``DYNAMIC_RANGE_DB``
    below ``REFERENCE_DB``, clipped to [0, 1]; clipped pixels return the clip level.
    """
    floor = ultrasound.REFERENCE_DB - ultrasound.DYNAMIC_RANGE_DB
    decibels = np.asarray(display, dtype=np.float64) * ultrasound.DYNAMIC_RANGE_DB + floor
    return np.maximum(10.0 ** (decibels / 10.0) - 1e-6, 0.0)


def us_display(intensity: np.ndarray) -> np.ndarray:
    """The ultrasound display mapping (the forward of ``us_intensity``), float64."""
    floor = ultrasound.REFERENCE_DB - ultrasound.DYNAMIC_RANGE_DB
    decibels = 10.0 * np.log10(np.asarray(intensity, dtype=np.float64) + 1e-6)
    return np.clip((decibels - floor) / ultrasound.DYNAMIC_RANGE_DB, 0.0, 1.0)


def tiles_inside(image: np.ndarray, mask: np.ndarray, side: int) -> np.ndarray:
    """The non-overlapping ``side`` x ``side`` tiles of ``image`` wholly inside ``mask``:
    float64 (n, side, side)."""
    rows, cols = image.shape[0] // side, image.shape[1] // side
    crop = (slice(0, rows * side), slice(0, cols * side))
    tiles = image[crop].reshape(rows, side, cols, side).swapaxes(1, 2)
    inside = mask[crop].reshape(rows, side, cols, side).all(axis=(1, 3))
    return tiles[inside].astype(np.float64)


def periodogram_sum(tiles: np.ndarray) -> np.ndarray:
    """Sum over ``tiles`` (n, P, P) of |FFT(tile - its mean)|^2 / P^2: divided by n, the
    mean 2-D periodogram, whose mean over the P^2 frequencies is the tiles' variance."""
    centred = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    side = tiles.shape[-1]
    spectra = np.abs(np.fft.fft2(centred)) ** 2 / float(side * side)
    return spectra.sum(axis=0)


def radial_nps(spectrum: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Radial average of a (P, P) 2-D noise power spectrum (``periodogram_sum`` / n).

    Returns (frequency in cycles/mm, NPS in units^2 mm^2) for the rings 0..P//2 of width
    1 / (P * spacing): ring k holds the frequencies whose radius rounds to k / P cycles
    per pixel. NPS = spacing^2 x periodogram, so it integrates over frequency to the
    variance (Parseval) and white noise of SD s has the flat NPS s^2 spacing^2.
    """
    side = spectrum.shape[0]
    frequency = np.fft.fftfreq(side)
    radius = np.hypot(frequency[:, None], frequency[None, :]) * side
    ring = np.rint(radius).astype(np.intp).ravel()
    keep = ring <= side // 2
    sums = np.bincount(ring[keep], weights=spectrum.ravel()[keep], minlength=side // 2 + 1)
    counts = np.bincount(ring[keep], minlength=side // 2 + 1)
    nps = sums / np.maximum(counts, 1) * spacing_mm**2
    return np.arange(side // 2 + 1) / (side * spacing_mm), nps


def nps_peak(frequency: np.ndarray, nps: np.ndarray) -> float:
    """Frequency of the NPS maximum (ring 0 excluded), refined by a parabola through the
    highest ring and its neighbours; same units as ``frequency``."""
    k = 1 + int(np.argmax(nps[1:]))
    step = frequency[1] - frequency[0]
    if 1 <= k - 1 and k + 1 < len(nps):
        below, at, above = nps[k - 1], nps[k], nps[k + 1]
        curvature = below - 2.0 * at + above
        if curvature < 0:
            return float(frequency[k] + 0.5 * (below - above) / curvature * step)
    return float(frequency[k])


def principal_long_axis(mask: np.ndarray, spacing_mm: float) -> float:
    """Long axis (mm) of the region ``mask``: 4 x the SD of its pixel positions along the
    principal axis (the major axis of a filled ellipse); NaN for < 3 pixels."""
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return math.nan
    covariance = np.cov(np.stack([rows, cols]).astype(np.float64))
    return float(4.0 * math.sqrt(np.linalg.eigvalsh(covariance)[-1]) * spacing_mm)


def layer_thickness(outer_area: float, layer_area: float) -> float:
    """Depth of an outer layer of area ``layer_area`` on a region of area ``outer_area``,
    as for concentric circles: sqrt(A / pi) - sqrt((A - a) / pi)."""
    return math.sqrt(outer_area / math.pi) - math.sqrt(max(outer_area - layer_area, 0.0) / math.pi)


def ordered_steps(values: Sequence[float], *, decreasing: bool) -> int:
    """How many adjacent steps of ``values`` go the given way (strictly)."""
    steps = np.diff(np.asarray(values, dtype=np.float64))
    return int(np.sum(steps < 0 if decreasing else steps > 0))


# ------------------------------------------------------------------------- measurement

#: CT organs: name -> label ids.
CT_ORGANS = {
    "liver": (L.LIVER,),
    "spleen": (L.SPLEEN,),
    "kidney": (L.KIDNEY,),
    "muscle": (L.MUSCLE,),
    "aorta": (L.AORTA,),
    "fat": (L.SUBCUTANEOUS_FAT,),
    "bile": (L.GALLBLADDER,),
    "ascites": (L.ASCITES,),
    "lung": (L.LUNG,),
}
#: T2 MRI tissues: name -> label ids.
MRI_TISSUES = {
    "liver": (L.LIVER,),
    "spleen": (L.SPLEEN,),
    "kidney": (L.KIDNEY,),
    "fat": (L.SUBCUTANEOUS_FAT,),
    "muscle": (L.MUSCLE,),
    "bile": (L.GALLBLADDER,),
    "csf": (L.SPINAL_CANAL,),
}


def _region_mean(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    if int(mask.sum()) < MIN_PIXELS:
        return math.nan, math.nan
    values = image[mask].astype(np.float64)
    return float(values.mean()), float(values.std())


def measure_patient(task: tuple[int, int, int]) -> dict:
    """Measure patient ``index`` of ``(index, seed, image_size)``: a dict of floats (NaN
    where a structure is absent) and the summed CT noise periodogram of its air tiles."""
    index, seed, size = task
    patient = generate_patient(index, seed=seed, image_size=size)
    labels = patient.labels
    spacing = pixel_spacing_mm("CT", size)
    edge = erosion_steps(EDGE_MM, spacing)
    record: dict = {"stage": labels.fibrosis_stage, "sex": labels.sex, "age": float(labels.age)}

    # CT, in Hounsfield units.
    hu = patient.physical["CT"]
    ct_map = patient.label_maps["CT"]
    for name, ids in CT_ORGANS.items():
        mean, sd = _region_mean(hu, eroded(np.isin(ct_map, ids), edge))
        record[f"ct_{name}"], record[f"ct_{name}_sd"] = mean, sd
    bone = eroded(ct_map == L.VERTEBRA, erosion_steps(BONE_MM, spacing))
    record["ct_bone"] = _region_mean(hu, bone)[0]
    air = eroded(ct_map == L.BACKGROUND, erosion_steps(AIR_MM, spacing))
    tiles = tiles_inside(hu, air, max(8, round(NPS_TILE_MM / spacing)))
    record["nps_tiles"] = len(tiles)
    record["nps_sum"] = periodogram_sum(tiles) if len(tiles) else None

    # T2 MRI magnitude.
    mri = patient.images["MRI"]
    mri_map = patient.label_maps["MRI"]
    for name, ids in MRI_TISSUES.items():
        record[f"mri_{name}"] = _region_mean(mri, eroded(np.isin(mri_map, ids), edge))[0]
    background = mri[eroded(mri_map == L.BACKGROUND, erosion_steps(AIR_MM, spacing))]
    record["mri_background"] = rayleigh_ratio(background) if background.size > 1 else math.nan

    # Ultrasound: the envelope from the inverted log compression.
    us_spacing = pixel_spacing_mm("US", size)
    us_liver = eroded(patient.label_maps["US"] == L.LIVER, erosion_steps(EDGE_MM, us_spacing))
    envelope = np.sqrt(us_intensity(patient.images["US"]))
    window = max(4, round(NAKAGAMI_WINDOW_MM / us_spacing))
    record["us_m"] = windowed_nakagami(envelope, us_liver, window)

    # Morphology (anatomy records; spleen from the label map).
    record["caudate_ratio"] = float(patient.anatomy.caudate_right_ratio)
    record["nodularity"] = float(patient.anatomy.surface_nodularity)
    spleen = ct_map == L.SPLEEN
    record["spleen_area"] = float(spleen.sum()) * spacing**2 / 100.0  # cm^2
    record["spleen_axis"] = principal_long_axis(spleen, spacing) / 10.0  # cm

    # Habitus.
    body = ct_map != L.BACKGROUND
    rows, cols = np.nonzero(body.any(axis=1))[0], np.nonzero(body.any(axis=0))[0]
    ap = (rows[-1] - rows[0] + 1) * spacing
    lat = (cols[-1] - cols[0] + 1) * spacing
    body_area = float(body.sum()) * spacing**2
    fat_area = float((ct_map == L.SUBCUTANEOUS_FAT).sum()) * spacing**2
    record["body_ap"], record["body_lat"] = float(ap), float(lat)
    record["body_area"] = body_area / 100.0  # cm^2
    record["fat_thickness"] = layer_thickness(body_area, fat_area)  # mm
    record["muscle_area"] = float((ct_map == L.MUSCLE).sum()) * spacing**2 / 100.0  # cm^2
    return record


def measure_cohort(num_patients: int, image_size: int, seed: int, workers: int = 1) -> list[dict]:
    """``measure_patient`` of patients 0..num_patients-1, in index order."""
    tasks = [(index, seed, image_size) for index in range(num_patients)]
    if workers <= 1:
        return [measure_patient(task) for task in tasks]
    with process_pool(workers) as pool:
        return list(pool.imap(measure_patient, tasks, chunksize=8))


# -------------------------------------------------------------------------- summary


def _finite(values: Iterable[float]) -> np.ndarray:
    values = np.asarray(list(values), dtype=np.float64)
    return values[np.isfinite(values)]


def _values(records: Iterable[dict], key: str, where: Callable[[dict], bool] | None = None):
    """The finite values of ``key`` over the records ``where`` accepts."""
    return _finite(r[key] for r in records if where is None or where(r))


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _sd(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if values.size > 1 else math.nan


def _by_stage(records, key: str, statistic=_median) -> list[float]:
    return [statistic(_values(records, key, lambda r, s=s: r["stage"] == s)) for s in STAGES]


def _stages_text(values: Sequence[float], digits: int, sep: str = " / ") -> str:
    return sep.join(
        f"{stage} {value:.{digits}f}" for stage, value in zip(STAGES, values, strict=True)
    )


def _is(stage: str) -> Callable[[dict], bool]:
    return lambda r: r["stage"] == stage


def _ratio(records, key: str, reference: str, where) -> np.ndarray:
    """Per-patient ratios ``key / reference`` (finite only)."""
    chosen = [r for r in records if where(r)]
    ratio = np.asarray([r[key] / r[reference] for r in chosen], dtype=np.float64)
    return ratio[np.isfinite(ratio)]


def ct_rows(records: list[dict]) -> list[Row]:
    rows = []
    f0 = _is("F0")

    def organ(name: str, label: str, anchor: Anchor, where=None) -> None:
        values = _values(records, f"ct_{name}", where)
        roi_sd = _median(_values(records, f"ct_{name}_sd", where))
        measured = (
            f"{_mean(values):.1f} HU (SD {_sd(values):.1f} between {values.size} patients; "
            f"ROI SD {roi_sd:.1f})"
        )
        rows.append(Row("CT", label, _mean(values), measured, anchor))

    organ("liver", "liver HU, F0", Anchor(45, 65, "45 to 65 HU (unenhanced)", REF), f0)
    liver_f0 = _values(records, "ct_liver", f0)
    rows.append(
        Row(
            "CT",
            "liver HU SD between F0 patients",
            _sd(liver_f0),
            f"{_sd(liver_f0):.1f} HU",
            Anchor.about(5.1, "5.1 HU (58.9 +- 5.1 HU, normal donors)", ANA + " 3.1"),
        )
    )
    liver = _by_stage(records, "ct_liver", _mean)
    rows.append(
        Row(
            "CT",
            "liver HU, F4 minus F0",
            liver[-1] - liver[0],
            f"{liver[-1] - liver[0]:+.1f} HU ({_stages_text(liver, 0)})",
            Anchor(
                None,
                0.0,
                "<= 0: does not rise (post-mortem normal 58, cirrhosis 51 HU)",
                REF + " (seed vs radiology)",
            ),
        )
    )
    organ("spleen", "spleen HU", Anchor(35, 55, "35 to 55 HU", REF))
    difference = _finite([r["ct_liver"] - r["ct_spleen"] for r in records if f0(r)])
    rows.append(
        Row(
            "CT",
            "liver minus spleen HU, F0",
            _mean(difference),
            f"{_mean(difference):+.1f} HU",
            Anchor(1, 18, "1 to 18 HU (biopsy-normal; Park 2006)", ANA + " 3.1"),
        )
    )
    organ("kidney", "kidney HU", Anchor(20, 40, "20 to 40 HU", REF))
    organ("muscle", "muscle HU", Anchor(36, 47, "36 to 47 HU", REF))
    organ(
        "aorta",
        "aortic blood HU",
        Anchor(38, 47, "38 to 47 HU (unenhanced; preferred to REFERENCE's 45-65)", ANA + " 3.1"),
    )
    organ("fat", "subcutaneous fat HU", Anchor(-100, -50, "-100 to -50 HU", REF))
    organ("bile", "gallbladder bile HU", Anchor(1, 5, "1 to 5 HU (about water)", ANA + " 3.1"))
    organ("ascites", "ascites HU", Anchor(0, 20, "0 to 20 HU", REF))
    organ(
        "lung",
        "lung base HU",
        Anchor(-910, -850, "-910 to -850 HU (aerated, inspiration)", ANA + " 3.1"),
    )

    residual = _finite([r["ct_bone"] - (226.0 - 2.5 * (r["age"] - 25.0)) for r in records])
    bone = _values(records, "ct_bone")
    ages = _values(records, "age", lambda r: math.isfinite(r["ct_bone"]))
    slope = float(np.polyfit(ages, bone, 1)[0]) if bone.size > 2 else math.nan
    rows.append(
        Row(
            "CT",
            "vertebral trabecular HU minus age model",
            _mean(residual),
            f"{_mean(residual):+.0f} HU (mean {_mean(bone):.0f} HU; {slope:+.1f} HU/year)",
            Anchor(
                -40,
                40,
                "226 - 2.5 (age - 25) HU, SD 40 (Jang 2019): PASS within 1 SD",
                ANA + " 3.1",
            ),
        )
    )
    noise = _values(records, "ct_liver_sd")
    rows.append(
        Row(
            "CT",
            "noise SD in the liver interior",
            _median(noise),
            f"{_median(noise):.1f} HU (median ROI SD)",
            Anchor(8, 15, "about 10 HU; 8 to 15 HU in liver ROIs", REF + "; " + ANA + " 3.2"),
        )
    )
    return rows


def nps_row(records: list[dict], image_size: int) -> Row:
    spectra = [r["nps_sum"] for r in records if r["nps_sum"] is not None]
    count = sum(r["nps_tiles"] for r in records)
    peak, measured = math.nan, "no air tile outside the body"
    if spectra:
        spacing = pixel_spacing_mm("CT", image_size)
        frequency, nps = radial_nps(np.sum(spectra, axis=0) / count, spacing)
        peak = nps_peak(frequency, nps)
        side = spectra[0].shape[0]
        measured = (
            f"{peak:.3f} cycles/mm ({count} air tiles of {side} px; Nyquist {frequency[-1]:.3f})"
        )
    return Row(
        "CT",
        "noise power spectrum peak",
        peak,
        measured,
        Anchor(0.2, 0.3, "0.2 to 0.3 /mm (soft-tissue FBP kernel; example 0.26)", ANA + " 3.2"),
    )


def mri_rows(records: list[dict]) -> list[Row]:
    f0 = _is("F0")
    medians = {name: _median(_values(records, f"mri_{name}", f0)) for name in MRI_TISSUES}
    fluid = float(np.nanmin([medians["bile"], medians["csf"]]))
    chain = [
        fluid > max(medians["fat"], medians["spleen"]),
        min(medians["fat"], medians["spleen"]) > medians["liver"],
        medians["liver"] > medians["muscle"],
    ]
    rows = [
        Row(
            "T2 MRI",
            "ordering fluid > fat ~ spleen > liver > muscle, F0",
            float(sum(chain)),
            f"{sum(chain)}/3 steps (medians: fluid {fluid:.2f}, fat {medians['fat']:.2f}, "
            f"spleen {medians['spleen']:.2f}, liver {medians['liver']:.2f}, "
            f"muscle {medians['muscle']:.2f})",
            Anchor(3, 3, "3/3 steps", REF),
        )
    ]
    anchors = {
        "spleen": (2.6, 3.4),
        "kidney": (3.5, 4.8),
        "fat": (3.3, 4.5),
        "muscle": (0.60, 0.66),
        "bile": (8.6, 15.0),
        "csf": (5.2, 9.3),
    }
    for name, (low, high) in anchors.items():
        ratio = _median(_ratio(records, f"mri_{name}", "mri_liver", f0))
        rows.append(
            Row(
                "T2 MRI",
                f"{name}/liver signal, F0",
                ratio,
                f"{ratio:.2f}",
                Anchor(low, high, f"{low:g} to {high:g} (FSE, TE 80-100 ms, 3 T T2)", ANA + " 4.1"),
            )
        )
    liver = _by_stage(records, "mri_liver")
    rise = liver[-1] / liver[0]
    # Whole-liver T2 66.7 -> 72.4 ms (Guimaraes 2016): signal ratio exp(TE (1/T2a - 1/T2b)).
    top = math.exp(100.0 * (1 / 66.7 - 1 / 72.4))
    rows.append(
        Row(
            "T2 MRI",
            "liver signal, F4 / F0",
            rise,
            f"{rise:.2f} ({_stages_text(liver, 2)})",
            Anchor(
                1.0,
                top,
                f"1 to {top:.2f}: slight rise (T2 66.7 -> 72.4 ms at TE <= 100 ms)",
                REF + " (seed vs radiology)",
            ),
        )
    )
    background = _values(records, "mri_background")
    rows.append(
        Row(
            "T2 MRI",
            "air background mean/SD",
            _median(background),
            f"{_median(background):.3f} (median over patients)",
            Anchor.about(RAYLEIGH_RATIO, "1.91 (Rayleigh; Gudbjartsson & Patz 1995)", REF),
        )
    )
    return rows


def ultrasound_rows(records: list[dict]) -> list[Row]:
    m = _by_stage(records, "us_m")
    steps = ordered_steps(m, decreasing=True)
    return [
        Row(
            "US",
            "liver Nakagami m, F0",
            m[0],
            f"{m[0]:.2f} (envelope from the inverted log compression)",
            Anchor(0.8, 1.0, "0.8 to 1.0 (healthy liver; 0.81 at 3.5 MHz)", f"{REF}; {ANA} 5.1"),
        ),
        Row(
            "US",
            "liver Nakagami m falls with stage",
            float(steps),
            f"{steps}/4 steps ({_stages_text(m, 2)})",
            Anchor(4, 4, "4/4 steps: fibrosis pushes m below 1", REF),
        ),
        Row(
            "US",
            "liver Nakagami m, F4",
            m[-1],
            f"{m[-1]:.2f}",
            Anchor(0.6, 0.75, "0.6 to 0.75 [inference]", ANA + " 5.1"),
        ),
    ]


def morphology_rows(records: list[dict]) -> list[Row]:
    rows = []
    ratio = _by_stage(records, "caudate_ratio")
    above = {stage: _values(records, "caudate_ratio", _is(stage)) for stage in ("F0", "F4")}
    f4_above = _mean((above["F4"] > 0.65).astype(np.float64))
    f0_below = _mean((above["F0"] < 0.65).astype(np.float64))
    harbin = "cut-off 0.65 (Harbin 1980)"
    rows.append(
        Row(
            "morphology",
            "caudate/right-lobe ratio > 0.65, share of F4",
            f4_above,
            f"{100 * f4_above:.0f} % (medians {_stages_text(ratio, 2)})",
            Anchor(0.5, 1.0, f"> 50 %: {harbin} suggests cirrhosis", REF, low_open=True),
        )
    )
    rows.append(
        Row(
            "morphology",
            "caudate/right-lobe ratio < 0.65, share of F0",
            f0_below,
            f"{100 * f0_below:.0f} %",
            Anchor(0.5, 1.0, f"> 50 %: {harbin}", REF, low_open=True),
        )
    )
    f0_ratio = _mean(above["F0"])
    rows.append(
        Row(
            "morphology",
            "caudate/right-lobe ratio, F0 mean",
            f0_ratio,
            f"{f0_ratio:.2f}",
            Anchor(0.22, 0.38, "normal 0.30 +- 0.03 (range 0.22 to 0.38)", f"{ANA} 2.1"),
        )
    )
    nodularity = _by_stage(records, "nodularity", _mean)
    steps = ordered_steps(nodularity, decreasing=False)
    rows.append(
        Row(
            "morphology",
            "surface nodularity rises with stage",
            float(steps),
            f"{steps}/4 steps (means {_stages_text(nodularity, 3)})",
            Anchor(4, 4, "4/4 steps (LSN score 2.26, 2.35, 2.42, 3.19)", REF),
        )
    )
    share = (nodularity[4] - nodularity[3]) / (nodularity[4] - nodularity[0])
    published = (3.19 - 2.42) / (3.19 - 2.26)
    rows.append(
        Row(
            "morphology",
            "nodularity: share of the F0-F4 rise at F3-F4",
            share,
            f"{share:.2f}",
            Anchor.about(published, f"{published:.2f}: nearly flat until F4 (LSN, AJR)", REF),
        )
    )
    area = _by_stage(records, "spleen_area")
    steps = ordered_steps(area, decreasing=False)
    rows.append(
        Row(
            "morphology",
            "spleen area rises with stage",
            float(steps),
            f"{steps}/4 steps (medians {_stages_text(area, 0)} cm2)",
            Anchor(4, 4, "4/4 steps: gradual, steepest at F3-F4", REF),
        )
    )
    stages = [STAGES.index(r["stage"]) for r in records]
    spleen = [r["spleen_area"] for r in records]
    rho = float(scipy.stats.spearmanr(stages, spleen).statistic) if len(records) > 2 else math.nan
    rows.append(
        Row(
            "morphology",
            "spleen area vs stage, Spearman rho",
            rho,
            f"{rho:.2f}",
            Anchor(0.47, 0.73, "0.47 to 0.73 (spleen volume; Son 2020)", REF),
        )
    )
    axis = _by_stage(records, "spleen_axis")
    rows.append(
        Row(
            "morphology",
            "spleen long axis in the slice (its width), F0",
            axis[0],
            f"{axis[0]:.1f} cm",
            Anchor(
                7.27, 10.47, "width 8.87 +- 1.6 cm (CT, Caglar 2014): within 1 SD", f"{ANA} 2.3"
            ),
        )
    )
    growth = axis[-1] / axis[0]
    linear = (680.0 / 250.0) ** (1.0 / 3.0)
    rows.append(
        Row(
            "morphology",
            "spleen long axis, F4 / F0",
            growth,
            f"{growth:.2f}",
            Anchor.about(
                linear, f"{linear:.2f} (volume 250 -> 680 cm3, Ozgen 2024; cube root)", REF
            ),
        )
    )
    return rows


def habitus_rows(records: list[dict]) -> list[Row]:
    ap, lat = _values(records, "body_ap"), _values(records, "body_lat")
    diameter = np.sqrt(ap * lat)
    area = _values(records, "body_area")
    cv = _sd(diameter) / _mean(diameter)
    # Population De: 1st decile 238 mm, median 300 mm; as a normal, SD = 62 / 1.2816.
    population_cv = (300.0 - 238.0) / 1.2816 / 300.0
    rows = [
        Row(
            "habitus",
            "body effective diameter sqrt(AP x LAT), median",
            _median(diameter),
            f"{_median(diameter):.0f} mm",
            Anchor.about(300.0, "300 mm (abdominal CT, ~749 k exams)", ANA + " 1.1"),
        ),
        Row(
            "habitus",
            "body size spread: CV of effective diameter",
            cv,
            f"{100 * cv:.1f} % (CV of body area {100 * _sd(area) / _mean(area):.1f} %)",
            Anchor.about(
                population_cv,
                f"{100 * population_cv:.0f} % (deciles 238-300 mm, normal fit) [inference]",
                ANA + " 1.1",
            ),
        ),
    ]
    aspect = _median(lat / ap)
    rows.append(
        Row(
            "habitus",
            "body LAT/AP, median",
            aspect,
            f"{aspect:.2f}",
            Anchor(1.35, 1.6, "1.35 to 1.6", ANA + " 1.1"),
        )
    )
    women = _median(_values(records, "fat_thickness", lambda r: r["sex"] == "F"))
    men = _median(_values(records, "fat_thickness", lambda r: r["sex"] == "M"))
    rows.append(
        Row(
            "habitus",
            "subcutaneous fat depth, women minus men",
            women - men,
            f"{women - men:+.1f} mm (women {women:.1f}, men {men:.1f} mm)",
            Anchor(6, 24, "6 to 24 mm more in women (matched sites; 17,000 CT)", f"{ANA} 1.3"),
        )
    )
    women = _median(_values(records, "muscle_area", lambda r: r["sex"] == "F"))
    men = _median(_values(records, "muscle_area", lambda r: r["sex"] == "M"))
    rows.append(
        Row(
            "habitus",
            "muscle area, men / women",
            men / women,
            f"{men / women:.2f} (men {men:.0f}, women {women:.0f} cm2)",
            Anchor.about(134.0 / 88.0, "1.52 (L1: about 134 vs 88 cm2) [inference]", f"{ANA} 2.6"),
        )
    )
    return rows


def summarise(records: list[dict], image_size: int) -> list[Row]:
    """The report's rows from the per-patient measurements of a cohort."""
    return [
        *ct_rows(records),
        nps_row(records, image_size),
        *mri_rows(records),
        *ultrasound_rows(records),
        *morphology_rows(records),
        *habitus_rows(records),
    ]


def summary_line(rows: Sequence[Row], seconds: float) -> str:
    """How many rows PASS, FAIL and could not be measured, and the wall time."""
    passed = sum(row.result == "PASS" for row in rows)
    failed = sum(row.result == "FAIL" for row in rows)
    line = f"{passed} PASS, {failed} FAIL"
    missing = [row.name for row in rows if not row.measurable]
    if missing:
        line += f", {len(missing)} not measurable at this size or cohort ({'; '.join(missing)})"
    return line + f"; {len(rows)} rows measured in {seconds:.1f} s"


def run_report(
    num_patients: int, image_size: int, seed: int, workers: int = 1
) -> tuple[list[Row], float]:
    """Measure a cohort and summarise it: (rows, wall seconds)."""
    start = time.perf_counter()
    records = measure_cohort(num_patients, image_size, seed, workers)
    rows = summarise(records, image_size)
    return rows, time.perf_counter() - start


# ---------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realism.py",
        description="Measure the generator's images against published anchors (REFERENCE.md, "
        "ANATOMY.md) and print one PASS/FAIL row per property.",
        epilog="example: python benchmarks/realism.py --num-patients 300 --image-size 224",
    )
    add_cohort_arguments(parser, DEFAULT_NUM_PATIENTS, DEFAULT_IMAGE_SIZE)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes generating and measuring patients (default: all cores)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small run ({QUICK['num_patients']} patients at {QUICK['image_size']} x "
        f"{QUICK['image_size']}) to check that the script works; writes nothing",
    )
    parser.add_argument(
        "--write",
        choices=("auto", "yes", "no"),
        default="auto",
        help="write the table to the realism section of benchmarks/results.md: 'auto' does "
        "so unless --quick (default: auto)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.num_patients, args.image_size = QUICK["num_patients"], QUICK["image_size"]
    parameters = cohort_parameters(args, "realism.py")
    if parameters is None:
        return 2
    if args.workers < 1:
        print("realism.py: error: --workers must be >= 1", file=sys.stderr)
        return 2
    rows, seconds = run_report(
        parameters.num_patients, parameters.image_size, parameters.seed, args.workers
    )
    table = table_markdown(rows)
    summary = summary_line(rows, seconds)
    print(table)
    print()
    print(summary)
    if args.write == "yes" or (args.write == "auto" and not args.quick):
        command = "python benchmarks/realism.py"
        defaults = (DEFAULT_NUM_PATIENTS, DEFAULT_IMAGE_SIZE, DEFAULT_SEED)
        if (parameters.num_patients, parameters.image_size, parameters.seed) != defaults:
            command += (
                f" --num-patients {parameters.num_patients} --image-size "
                f"{parameters.image_size} --seed {parameters.seed}"
            )
        replace_section(
            SECTION,
            "\n\n".join(
                [
                    "## Realism (published anchors)",
                    f"Measured by `{command}` ({parameters.num_patients} patients at "
                    f"{parameters.image_size} x {parameters.image_size}, seed "
                    f"{parameters.seed}, {args.workers} processes, {seconds:.1f} s); what "
                    "each row measures and how it passes: the script's docstring. Sources "
                    "are the project's `REFERENCE.md` and `ANATOMY.md` (section numbers).",
                    describe_machine_markdown(machine_description()),
                    table,
                    summary + ".",
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
