"""Scale: ``python benchmarks/scale.py [--num-patients N] [--image-size S]``.

Exports ``--formats parquet`` of N patients (default 100,000 at 64 x 64) with the local
engine and with Ray (a local Ray with every core), each as a fresh process, and records
wall time, patients/s and the peak resident set size of the largest process (the
driver, a worker or a Ray process; ``os.wait4`` of the export and its descendants). The
two folders' manifests are compared: the engines must write the same bytes. With the
defaults the table goes into the ``scale`` section of ``benchmarks/results.md``, beside
the plan for 10 million patients that README.md derives from it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    describe_machine_markdown,
    machine_description,
    markdown_table,
    replace_section,
)
from benchmarks.run import MB, Sizes, _export_command, _row, run_measured
from generator.contract import GENERATOR_VERSION

DEFAULT_PATIENTS, DEFAULT_SIZE = 100_000, 64


def measure_scale(num_patients: int, image_size: int, workdir: Path) -> list[tuple]:
    """Both engines on the same export; rows of the table."""
    sizes = Sizes(generation_patients=0, num_patients=num_patients, image_size=image_size)
    rows, manifests = [], {}
    for engine in ("local", "ray"):
        folder = workdir / engine
        command = _export_command(
            folder, num_patients, sizes, "--formats", "parquet", "--engine", engine
        )
        wall, peak = run_measured(command)
        written = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        manifests[engine] = (folder / "manifest-sha256.txt").read_bytes()
        shutil.rmtree(folder, ignore_errors=True)
        case = f"--engine {engine}, {num_patients} patients, {image_size} x {image_size}"
        rows += [
            _row("scale", f"{case}, wall", wall, "s"),
            _row("scale", f"{case}", num_patients / wall, "patients/s"),
            _row("scale", f"{case}, peak RSS of the largest process", peak, "MB"),
            _row("scale", f"{case}, written", written / MB, "MB"),
        ]
    same = manifests["local"] == manifests["ray"]
    rows.append(_row("scale", "ray files identical to local (1 = yes)", float(same), "bool"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scale.py", description=__doc__.splitlines()[0])
    parser.add_argument("--num-patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument("--image-size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--tmpdir", type=Path, help="where to write the two exports")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="omlc-scale-", dir=args.tmpdir) as workdir:
        rows = measure_scale(args.num_patients, args.image_size, Path(workdir))
    table = markdown_table(("benchmark", "case", "value", "unit"), rows)
    print(table)
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if (args.num_patients, args.image_size) == (DEFAULT_PATIENTS, DEFAULT_SIZE):
        replace_section(
            "scale",
            "\n\n".join(
                [
                    "## Scale",
                    f"Measured by `python benchmarks/scale.py` (generator {GENERATOR_VERSION}):",
                    describe_machine_markdown(machine_description()),
                    table,
                    "The plan for 10 million patients built on these figures is in README.md "
                    '("Past one machine").',
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
