"""Helpers shared by ``benchmarks/run.py`` and ``benchmarks/baselines.py``.

The machine description, markdown tables, the marked sections of
``benchmarks/results.md`` that each script rewrites (each owns its own section, so
running one never erases the other's figures), and the process pool both use.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import multiprocessing.pool
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from generator.contract import DEFAULT_SEED, GenerationParameters
from generator.files import write_text

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS_PATH = REPOSITORY / "benchmarks" / "results.md"

#: The sections of ``results.md``, in the order they appear.
SECTION_ORDER = ("performance", "scale", "baselines", "calibration", "realism")

_RESULTS_HEADER = """\
# Benchmarks and baselines

Written by the benchmark scripts; do not edit by hand. Each section is replaced by the
script named in it, and records the machine, the date and the generator version it was
measured with.
"""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def source_revision() -> str | None:
    """The repository's commit, marked if the generator has uncommitted changes; None
    outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            [
                "git",
                "-C",
                str(REPOSITORY),
                "status",
                "--porcelain",
                "--",
                "generator",
                "open_multimodal_liver_cirrhosis.py",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit} (with uncommitted generator changes)" if changes else commit


def machine_description() -> dict[str, str]:
    """What the figures were measured on: date, machine, software versions."""
    import numpy

    from generator.contract import GENERATOR_VERSION

    memory = _memory_gb()
    versions = [f"Python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for name in ("datasets", "pyarrow", "sklearn"):
        module = sys.modules.get(name)
        if module is not None:
            versions.append(f"{'scikit-learn' if name == 'sklearn' else name} {module.__version__}")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": (
            f"{_cpu_model()}, {os.cpu_count()} logical cores"
            + (f", {memory:.0f} GB RAM" if memory else "")
            + f", {platform.system()} {platform.release()}"
        ),
        "software": ", ".join(versions),
        "generator_version": GENERATOR_VERSION,
        "commit": source_revision() or "unknown (not a git checkout)",
    }


def describe_machine_markdown(description: dict[str, str]) -> str:
    """The machine description as a markdown bullet list."""
    return "\n".join(
        [
            f"- date: {description['date']}",
            f"- machine: {description['machine']}",
            f"- software: {description['software']}",
            f"- generator version: {description['generator_version']}, commit "
            f"{description['commit']}",
        ]
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are ``str()``-ed."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def replace_section(name: str, body: str, path: Path = RESULTS_PATH) -> None:
    """Replace the section ``name`` of ``path`` (markdown) by ``body``, creating either.

    Sections are delimited by ``<!-- BEGIN name -->`` / ``<!-- END name -->``; the
    rest of the file is kept. The file is replaced atomically.
    """
    begin, end = _markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.is_file() else _RESULTS_HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:  # a new section goes before the first present section listed after it
        later = SECTION_ORDER[SECTION_ORDER.index(name) + 1 :] if name in SECTION_ORDER else ()
        positions = [text.find(_markers(other)[0]) for other in later]
        positions = [position for position in positions if position >= 0]
        if positions:
            at = min(positions)
            text = text[:at] + block + "\n\n" + text[at:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    write_text(path, text)


def process_pool(workers: int) -> multiprocessing.pool.Pool:
    """A process pool; fork (where available) skips re-importing the libraries per worker."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None).Pool(workers)


def eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    """``mask`` eroded by ``steps`` pixels (4-neighbourhood; the image edge erodes
    nothing: outside the image counts as inside the mask)."""
    mask = np.asarray(mask, dtype=bool)
    for _ in range(steps):
        inner = mask.copy()
        inner[1:, :] &= mask[:-1, :]
        inner[:-1, :] &= mask[1:, :]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        mask = inner
    return mask


#: The fewest patients a difficulty or realism benchmark can split and measure.
MIN_COHORT = 10


def add_cohort_arguments(
    parser: argparse.ArgumentParser, num_patients: int, image_size: int, size_note: str = ""
) -> None:
    """Add ``--num-patients``, ``--image-size`` (``size_note`` after its help, e.g.
    ``", >= 32"``) and ``--seed`` with these defaults."""
    parser.add_argument(
        "--num-patients",
        type=int,
        default=num_patients,
        help=f"patients to generate (default: {num_patients})",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=image_size,
        help=f"image side in pixels{size_note} (default: {image_size})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"dataset seed (default: {DEFAULT_SEED})"
    )


def cohort_parameters(args: argparse.Namespace, script: str) -> GenerationParameters | None:
    """The cohort the arguments of ``add_cohort_arguments`` name, or ``None`` after one
    ``<script>: error: ...`` line on stderr (invalid, or under ``MIN_COHORT`` patients)."""
    try:
        parameters = GenerationParameters(args.num_patients, args.image_size, args.seed)
    except ValueError as error:
        print(f"{script}: error: {error}", file=sys.stderr)
        return None
    if parameters.num_patients < MIN_COHORT:
        print(f"{script}: error: --num-patients must be >= {MIN_COHORT}", file=sys.stderr)
        return None
    return parameters
