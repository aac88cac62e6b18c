"""The realism report (``benchmarks/realism.py``): its estimators measure what they claim,
and on a small cohort every row has a finite value, an anchor and a PASS/FAIL that
follows from them. No timing is asserted.

The estimators are checked on inputs with a known answer: a Rayleigh sample gives
mean/SD 1.913, Nakagami samples of known m are recovered by the moment estimator
(pooled and windowed, also through the ultrasound's log compression), white noise has a
flat noise power spectrum at s^2 spacing^2, ramp-filtered noise peaks where its filter
does, and the geometric helpers are exact on discs and ellipses.

Rows that FAIL on the default run (``python benchmarks/realism.py``: 300 patients at
224 px, seed 42) for generator 3.3.0, 5 of 41:

- CT: liver HU F4 minus F0 (rises: the seed's trend).
- T2 MRI: liver signal F4 / F0 (rises: the seed's trend).
- Morphology: nodularity share of the F0-F4 rise at F3-F4; spleen area vs stage
  Spearman rho (0.40 against 0.47-0.73).
- Habitus: CV of effective diameter (10.7 % against 16 % +- 20 %: the fixed 360 mm field
  of view cuts the widest bodies).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # the script imports ``benchmarks.common``
    sys.path.insert(0, str(REPOSITORY))

from benchmarks import common, realism  # noqa: E402
from generator.contract import STAGES  # noqa: E402


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _disc(size: int, radius: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    cy, cx = centre if centre is not None else ((size - 1) / 2, (size - 1) / 2)
    y, x = np.mgrid[:size, :size]
    return (y - cy) ** 2 + (x - cx) ** 2 <= radius**2


class TestAnchor:
    def test_range_is_inclusive(self):
        anchor = realism.Anchor(1.0, 2.0, "1 to 2", "here")
        assert anchor.passes(1.0) and anchor.passes(1.5) and anchor.passes(2.0)
        assert not anchor.passes(0.999) and not anchor.passes(2.001)

    def test_open_low_bound_and_one_sided(self):
        assert not realism.Anchor(0.5, 1.0, "> 50 %", "", low_open=True).passes(0.5)
        assert realism.Anchor(0.5, 1.0, "> 50 %", "", low_open=True).passes(0.51)
        assert realism.Anchor(None, 0.0, "<= 0", "").passes(-100.0)
        assert not realism.Anchor(None, 0.0, "<= 0", "").passes(0.1)
        assert realism.Anchor(3.0, None, ">= 3", "").passes(1e9)

    def test_about_is_twenty_percent_either_side(self):
        anchor = realism.Anchor.about(10.0, "about 10", "src")
        assert (anchor.low, anchor.high) == pytest.approx((8.0, 12.0))
        assert anchor.passes(8.0) and anchor.passes(12.0)
        assert not anchor.passes(7.9) and not anchor.passes(12.1)
        assert "20 %" in anchor.text

    def test_non_finite_never_passes(self):
        anchor = realism.Anchor(None, None, "anything", "")
        assert anchor.passes(0.0)
        assert not anchor.passes(math.nan) and not anchor.passes(math.inf)

    def test_row_result_follows_the_anchor(self):
        anchor = realism.Anchor(1.0, 2.0, "1 to 2", "src")
        assert realism.Row("g", "p", 1.5, "1.5", anchor).result == "PASS"
        assert realism.Row("g", "p", 2.5, "2.5", anchor).result == "FAIL"
        missing = realism.Row("g", "p", math.nan, "-", anchor)
        assert missing.result == "n/a" and not missing.passed and not missing.measurable

    def test_table_has_one_line_per_row(self):
        anchor = realism.Anchor(0.0, 1.0, "0 to 1", "REFERENCE.md")
        rows = [realism.Row("g", f"p{k}", k / 2, f"{k / 2}", anchor) for k in range(4)]
        lines = realism.table_markdown(rows).splitlines()
        assert lines[0] == "| " + " | ".join(realism.TABLE_HEADER) + " |"
        assert [line.split(" | ")[-1] for line in lines[2:]] == [
            "PASS |",
            "PASS |",
            "PASS |",
            "FAIL |",
        ]


class TestRayleigh:
    def test_rayleigh_sample_gives_1_91_and_passes(self):
        sample = _rng().rayleigh(0.025, size=200_000)
        ratio = realism.rayleigh_ratio(sample)
        assert ratio == pytest.approx(realism.RAYLEIGH_RATIO, abs=0.01)
        assert realism.RAYLEIGH_RATIO == pytest.approx(1.913, abs=1e-3)
        anchor = realism.Anchor.about(realism.RAYLEIGH_RATIO, "1.91", "REFERENCE.md")
        assert anchor.passes(ratio)

    def test_magnitude_of_complex_gaussian_is_rayleigh(self):
        """The MRI's background: |0 + n0 + i n1| with Gaussian n0, n1."""
        noise = _rng(1).standard_normal((2, 300, 300))
        ratio = realism.rayleigh_ratio(np.hypot(noise[0], noise[1]))
        assert ratio == pytest.approx(realism.RAYLEIGH_RATIO, abs=0.02)

    def test_signal_or_averaging_moves_the_ratio_away(self):
        """Rician magnitude of a bright signal, or block-averaged Rayleigh, must FAIL."""
        noise = _rng(2).standard_normal((2, 300, 300))
        anchor = realism.Anchor.about(realism.RAYLEIGH_RATIO, "1.91", "REFERENCE.md")
        rician = realism.rayleigh_ratio(np.hypot(10.0 + noise[0], noise[1]))
        averaged = np.hypot(noise[0], noise[1]).reshape(100, 3, 100, 3).mean(axis=(1, 3))
        assert rician > 5 and not anchor.passes(rician)
        assert not anchor.passes(realism.rayleigh_ratio(averaged))


def _nakagami(m: float, shape, seed: int = 0) -> np.ndarray:
    """Nakagami(m, omega=1) envelope: the square root of a Gamma(m, 1/m) intensity."""
    return np.sqrt(_rng(seed).gamma(m, 1.0 / m, size=shape))


class TestNakagami:
    @pytest.mark.parametrize("m", [0.5, 0.8, 1.0, 2.0])
    def test_moment_estimator_recovers_m(self, m):
        assert realism.nakagami_m(_nakagami(m, 200_000)) == pytest.approx(m, rel=0.03)

    def test_rayleigh_envelope_is_m_1(self):
        assert realism.nakagami_m(_rng(3).rayleigh(2.0, 200_000)) == pytest.approx(1.0, rel=0.03)

    def test_scale_does_not_matter(self):
        envelope = _nakagami(0.7, 50_000)
        assert realism.nakagami_m(37.0 * envelope) == pytest.approx(realism.nakagami_m(envelope))

    @pytest.mark.parametrize("m", [0.6, 1.0])
    def test_windowed_estimate_recovers_m(self, m):
        envelope = _nakagami(m, (256, 256), seed=4)
        mask = np.ones(envelope.shape, dtype=bool)
        assert realism.windowed_nakagami(envelope, mask, 16) == pytest.approx(m, rel=0.06)

    def test_windows_outside_the_mask_are_ignored(self):
        envelope = _nakagami(2.0, (256, 256), seed=5)
        inner = _nakagami(0.5, (128, 128), seed=6)
        envelope[64:192, 64:192] = inner
        mask = np.zeros(envelope.shape, dtype=bool)
        mask[64:192, 64:192] = True
        assert realism.windowed_nakagami(envelope, mask, 16) == pytest.approx(0.5, rel=0.08)
        assert math.isnan(realism.windowed_nakagami(envelope, np.zeros_like(mask), 16))

    def test_through_the_ultrasound_log_compression(self):
        """m survives display mapping + inversion; the compressed values themselves do not
        give m (which is why the report inverts the compression)."""
        m = 0.8
        intensity = _nakagami(m, 100_000, seed=7) ** 2
        display = realism.us_display(intensity)
        assert display.min() >= 0.0 and display.max() <= 1.0
        recovered = realism.us_intensity(display)
        shown = (display > 0.0) & (display < 1.0)  # the clipped tail (< -29 dB) is lost
        assert shown.mean() > 0.99
        np.testing.assert_allclose(recovered[shown], intensity[shown], rtol=1e-5)
        assert realism.nakagami_m(np.sqrt(recovered)) == pytest.approx(m, rel=0.03)
        assert realism.nakagami_m(display) > 3 * m

    def test_inversion_of_clipped_pixels_gives_the_clip_levels(self):
        top = realism.ultrasound.REFERENCE_DB
        bottom = top - realism.ultrasound.DYNAMIC_RANGE_DB
        levels = realism.us_intensity(np.array([0.0, 1.0]))
        np.testing.assert_allclose(10 * np.log10(levels + 1e-6), [bottom, top], atol=1e-6)


def _ramp_noise(side: int, rolloff: float, fields: int, seed: int) -> list[np.ndarray]:
    """Fields with spectral amplitude f exp(-(f / rolloff)^2), f in cycles/pixel: NPS
    peak at rolloff / sqrt(2)."""
    rng = _rng(seed)
    radius = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.fftfreq(side)[None, :])
    response = radius * np.exp(-((radius / rolloff) ** 2))
    return [
        np.fft.ifft2(np.fft.fft2(rng.standard_normal((side, side))) * response).real
        for _ in range(fields)
    ]


def _mean_nps(fields: list[np.ndarray], tile: int, spacing: float):
    total, count = 0.0, 0
    for field in fields:
        tiles = realism.tiles_inside(field, np.ones(field.shape, dtype=bool), tile)
        total = total + realism.periodogram_sum(tiles)
        count += len(tiles)
    return realism.radial_nps(total / count, spacing)


class TestNoisePowerSpectrum:
    def test_white_noise_is_flat_at_variance_times_pixel_area(self):
        sd, spacing = 3.0, 0.5
        fields = [_rng(seed).normal(0.0, sd, (256, 256)) for seed in range(10)]
        frequency, nps = _mean_nps(fields, 32, spacing)
        assert frequency[1] == pytest.approx(1.0 / (32 * spacing))
        assert frequency[-1] == pytest.approx(1.0 / (2 * spacing))  # Nyquist
        rings = nps[1:] / (sd**2 * spacing**2)
        np.testing.assert_allclose(rings, 1.0, atol=0.05)
        assert nps[0] < 1e-20  # tiles are mean-removed

    def test_parseval(self):
        field = _rng(8).normal(0.0, 2.0, (64, 64))
        tiles = realism.tiles_inside(field, np.ones(field.shape, dtype=bool), 16)
        mean_spectrum = realism.periodogram_sum(tiles) / len(tiles)
        variance = np.mean(tiles.var(axis=(1, 2)))
        assert mean_spectrum.mean() == pytest.approx(variance)

    @pytest.mark.parametrize("rolloff", [0.12, 0.22, 0.3])
    def test_ramp_filtered_noise_peaks_at_its_filter_peak(self, rolloff):
        spacing = 1.6
        frequency, nps = _mean_nps(_ramp_noise(256, rolloff, 10, seed=9), 32, spacing)
        expected = rolloff / math.sqrt(2) / spacing  # cycles/mm
        ring = frequency[1]
        assert realism.nps_peak(frequency, nps) == pytest.approx(expected, abs=ring / 2)
        # rises from DC, then rolls off
        peak = int(np.argmax(nps))
        assert nps[1] < nps[peak] and nps[-1] < nps[peak]

    def test_peak_refinement_of_a_parabola_is_exact(self):
        frequency = np.arange(10) * 0.1
        nps = -((frequency - 0.43) ** 2) + 5.0
        assert realism.nps_peak(frequency, nps) == pytest.approx(0.43)

    def test_tiles_only_inside_the_mask(self):
        image = np.arange(64 * 64, dtype=float).reshape(64, 64)
        mask = np.zeros((64, 64), dtype=bool)
        mask[:16, :32] = True
        tiles = realism.tiles_inside(image, mask, 16)
        assert tiles.shape == (2, 16, 16)
        np.testing.assert_array_equal(tiles[1], image[:16, 16:32])


class TestGeometry:
    def test_erosion_shrinks_a_disc_by_the_steps(self):
        disc = _disc(101, 30.0)
        inner = realism.eroded(disc, 3)
        rows = np.nonzero(inner[:, 50])[0]
        assert (rows[-1] - rows[0] + 1) == 61 - 2 * 3
        assert realism.eroded(disc, 0).sum() == disc.sum()
        assert not realism.eroded(_disc(101, 2.0), 3).any()

    def test_erosion_depth_in_pixels(self):
        assert realism.erosion_steps(2.5, 360 / 224) == 2
        assert realism.erosion_steps(2.5, 360 / 64) == 1  # at least one pixel
        assert realism.erosion_steps(6.0, 360 / 224) == 4

    def test_long_axis_of_an_ellipse(self):
        y, x = np.mgrid[:200, :200]
        u, v = (x - 100.0), (y - 100.0)
        angle = 0.6
        a = u * math.cos(angle) + v * math.sin(angle)
        b = v * math.cos(angle) - u * math.sin(angle)
        ellipse = (a / 60.0) ** 2 + (b / 25.0) ** 2 <= 1.0
        assert realism.principal_long_axis(ellipse, 0.5) == pytest.approx(60.0, rel=0.02)
        assert math.isnan(realism.principal_long_axis(np.zeros((5, 5), dtype=bool), 1.0))

    def test_layer_thickness_of_concentric_circles(self):
        outer, inner = math.pi * 50.0**2, math.pi * 40.0**2
        assert realism.layer_thickness(outer, outer - inner) == pytest.approx(10.0)
        assert realism.layer_thickness(outer, 0.0) == 0.0

    def test_ordered_steps(self):
        assert realism.ordered_steps([5, 4, 3, 2, 1], decreasing=True) == 4
        assert realism.ordered_steps([5, 4, 4, 2, 3], decreasing=True) == 2
        assert realism.ordered_steps([1, 2, 3, 3, 4], decreasing=False) == 3


@pytest.fixture(scope="module")
def cohort_rows():
    """The report on 30 patients at 224 px (a second or two): 224, not 64, because below
    96 px the generator block-averages a supersampled render and small structures (aorta,
    spinal canal) vanish under the edge erosion (``TestQuick`` covers that size)."""
    records = realism.measure_cohort(30, 224, 42, workers=1)
    return records, realism.summarise(records, 224)


class TestCohort:
    def test_every_stage_is_present(self, cohort_rows):
        records, _ = cohort_rows
        assert {record["stage"] for record in records} == set(STAGES)

    def test_every_row_is_measured_with_an_anchor(self, cohort_rows):
        _, rows = cohort_rows
        assert len(rows) >= 35
        assert len({row.name for row in rows}) == len(rows)
        for row in rows:
            assert math.isfinite(row.value), row.name
            assert row.measured and row.anchor.text and row.anchor.source, row.name
            assert "REFERENCE.md" in row.anchor.source or "ANATOMY.md" in row.anchor.source
            assert row.anchor.low is not None or row.anchor.high is not None, row.name

    def test_pass_fail_follows_from_value_and_anchor(self, cohort_rows):
        _, rows = cohort_rows
        for row in rows:
            low, high = row.anchor.low, row.anchor.high
            above = low is None or (row.value > low if row.anchor.low_open else row.value >= low)
            below = high is None or row.value <= high
            assert row.result == ("PASS" if above and below else "FAIL"), row.name

    def test_rows_cover_the_issue(self, cohort_rows):
        _, rows = cohort_rows
        names = " ".join(row.name for row in rows)
        for needed in (
            "liver HU",
            "spleen HU",
            "kidney HU",
            "aortic blood",
            "fat HU",
            "muscle HU",
            "trabecular",
            "noise SD",
            "noise power spectrum",
            "spleen/liver",
            "muscle/liver",
            "background mean/SD",
            "Nakagami m, F0",
            "Nakagami m falls",
            "caudate/right-lobe",
            "spleen area",
            "nodularity",
            "effective diameter",
            "subcutaneous fat depth",
        ):
            assert needed in names, needed

    def test_measured_values_are_physical(self, cohort_rows):
        records, rows = cohort_rows
        by_name = {row.name: row for row in rows}
        assert 0.0 < by_name["noise power spectrum peak"].value <= 0.5 / (360 / 224)
        assert by_name["noise SD in the liver interior"].value > 0
        assert by_name["liver Nakagami m, F0"].value > 0
        for record in records:
            assert record["body_ap"] > 0 and record["body_lat"] > 0
            assert 0 < record["spleen_area"] < record["body_area"]


class TestQuick:
    def test_cli_prints_the_table_and_writes_nothing(self, capsys):
        before = common.RESULTS_PATH.read_bytes() if common.RESULTS_PATH.exists() else None
        assert realism.main(["--quick", "--workers", "1"]) == 0
        after = common.RESULTS_PATH.read_bytes() if common.RESULTS_PATH.exists() else None
        assert before == after
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "| " + " | ".join(realism.TABLE_HEADER) + " |"
        body = [line for line in lines[2:] if line.startswith("|")]
        assert len(body) >= 35
        results = {line.rstrip(" |").rsplit("| ", 1)[-1] for line in body}
        assert results <= {"PASS", "FAIL", "n/a"}
        assert any("PASS," in line and "FAIL" in line for line in lines)

    @pytest.mark.parametrize(
        "argv", [["--num-patients", "5"], ["--image-size", "8"], ["--workers", "0"]]
    )
    def test_bad_arguments_exit_2(self, argv, capsys):
        assert realism.main([*argv, "--write", "no"]) == 2
        assert "realism.py: error" in capsys.readouterr().err
