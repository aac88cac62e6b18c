"""Spatially correlated random fields and small separable blurs.

A stationary Gaussian field with power spectrum ``|H(f)|^2`` is drawn directly in
Fourier space (complex white noise times the filter ``H``, then one inverse real FFT),
so only the spectral band where ``H`` is non-zero costs random draws. Filters are
cached per image size. Blurs with small Gaussian kernels (point-spread functions of a
few pixels) are separable direct convolutions, cheaper than FFTs at these sizes.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=64)
def _frequencies(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies (cycles per pixel) of an ``rfft2`` spectrum: (size, size//2+1)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return fy, fx


@functools.lru_cache(maxsize=256)
def _band_filter(
    size: int, kind: str, scale: float, parameter: float
) -> tuple[np.ndarray, int, int]:
    """A unit-variance spectral filter cropped to its support.

    ``kind`` is ``"gaussian"`` (correlation length ``scale`` in field-of-view fractions),
    ``"bandpass"`` (ring at wavelength ``scale``, relative width ``parameter``) or
    ``"ct"`` (ramp times a roll-off at ``parameter`` cycles per pixel: filtered
    back-projection noise). Returns the cropped filter (rows, cols) float32, already
    scaled so that the field has unit standard deviation, and the row and column extent.
    """
    fy, fx = _frequencies(size)
    radius = np.hypot(fy, fx) * size  # cycles per field of view
    if kind == "gaussian":
        sigma_f = 1.0 / (2.0 * np.pi * scale)  # cycles per field of view
        response = np.exp(-0.5 * (radius / sigma_f) ** 2)
    elif kind == "bandpass":
        centre = 1.0 / scale
        response = np.exp(-0.5 * ((radius - centre) / (parameter * centre)) ** 2)
    elif kind == "ct":
        per_pixel = radius / size
        response = per_pixel * np.exp(-((per_pixel / parameter) ** 2))
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    response[0, 0] = 0.0
    keep = response > 1e-3 * response.max()
    rows = int(min(np.max(np.nonzero(keep.any(axis=1)[: size // 2 + 1])[0]) + 1, size // 2))
    cols = int(np.max(np.nonzero(keep.any(axis=0))[0]) + 1)
    # irfft2 of a half spectrum: interior columns count twice (their mirror image).
    weight = np.full(response.shape[1], 2.0)
    weight[0] = 1.0
    if size % 2 == 0:
        weight[-1] = 1.0
    variance = float(np.sum(weight[None, :] * response**2)) * 2.0 / float(size) ** 4
    cropped = np.concatenate([response[: rows + 1, :cols], response[size - rows :, :cols]])
    cropped = (cropped / np.sqrt(variance)).astype(np.float32)
    cropped.flags.writeable = False
    return cropped, rows, cols


def correlated_field(
    rng: np.random.Generator, size: int, kind: str, scale: float, parameter: float = 0.0
) -> np.ndarray:
    """A zero-mean, unit-SD stationary Gaussian field; float32 (size, size).

    See ``_band_filter`` for ``kind``, ``scale`` and ``parameter``.
    """
    response, rows, cols = _band_filter(size, kind, float(scale), float(parameter))
    draws = rng.standard_normal((2, *response.shape), dtype=np.float32)
    # Only the first ``cols`` columns of the half spectrum are non-zero: the inverse FFT
    # along y runs on those columns alone, and the one along x pads them with zeros.
    spectrum = np.zeros((size, cols), dtype=np.complex64)
    band = (draws[0] + 1j * draws[1]) * response
    spectrum[: rows + 1] = band[: rows + 1]
    if rows:
        spectrum[size - rows :] = band[rows + 1 :]
    field = np.fft.irfft(np.fft.ifft(spectrum, axis=0), n=size, axis=1)
    return field.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=64)
def gaussian_kernel(sigma_pixels: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps (float32, odd length, 2.5 sigma each side)."""
    if sigma_pixels <= 0.0:
        return np.ones(1, dtype=np.float32)
    half = max(1, int(np.ceil(2.5 * sigma_pixels)))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_pixels) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    taps.flags.writeable = False
    return taps


def blur_taps(sigma_pixels: float) -> np.ndarray:
    """The taps :func:`separable_blur` uses for an SD of ``sigma_pixels`` (rounded to 0.001)."""
    return gaussian_kernel(round(float(sigma_pixels), 3))


def blur_power(sigma_y: float, sigma_x: float) -> float:
    """Variance gain of :func:`separable_blur` on white noise: sum of squared 2-D taps."""
    return float(np.sum(blur_taps(sigma_y) ** 2) * np.sum(blur_taps(sigma_x) ** 2))


def separable_blur(image: np.ndarray, sigma_y: float, sigma_x: float) -> np.ndarray:
    """Gaussian blur with per-axis SDs in pixels, edges clamped; same shape and dtype."""
    return separable_filter(image, blur_taps(sigma_y), blur_taps(sigma_x))


def separable_filter(image: np.ndarray, taps_y: np.ndarray, taps_x: np.ndarray) -> np.ndarray:
    """Convolve with odd-length 1-D taps along y (rows), then x (columns), edges clamped;
    same shape and dtype. A pixel depends only on the pixels within the taps' reach."""
    out = image
    for axis, taps in ((0, taps_y), (1, taps_x)):
        if taps.size == 1:
            continue
        half = taps.size // 2
        length = out.shape[axis]
        # Edge padding as one gather: the index of each padded row (column), clamped.
        source = np.clip(np.arange(-half, length + half), 0, length - 1)
        padded = np.take(out, source, axis=axis)
        if axis == 1:
            padded = padded.T  # shift rows of the transposed view instead of columns
        acc = taps[0] * padded[:length]
        for offset in range(1, taps.size):
            acc += taps[offset] * padded[offset : offset + length]
        out = acc if axis == 0 else acc.T
    return np.ascontiguousarray(out, dtype=image.dtype)
