"""Figures of the Hugging Face builder: prepare time, peak memory, streaming rate.

``python benchmarks/builder_figures.py`` prints, as JSON lines:

- ``prepare``: seconds to ``download_and_prepare`` the ``default`` config (PNG) for
  1000 patients at 224 x 224 with ``num_proc=1`` and ``num_proc=2``;
- ``peak_memory``: max RSS (MiB) of a fresh process preparing the ``float32`` config at
  224 x 224 for 1000 and 5000 patients (``num_proc=1``): flat means the writer does not
  buffer with the patient count;
- ``streaming``: patients per second iterating ``as_streaming_dataset()`` (no cache).

Each measurement runs in its own subprocess with a temporary cache directory that is
deleted afterwards. Self-contained: only the builder and the standard library.

example: python benchmarks/builder_figures.py --quick
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def _builder(config: str, num_patients: int, image_size: int, cache: str):
    import open_multimodal_liver_cirrhosis as script

    return script.OpenMultimodalLiverCirrhosis(
        config_name=config, num_patients=num_patients, image_size=image_size, cache_dir=cache
    )


def _prepare(config: str, num_patients: int, image_size: int, num_proc: int) -> dict:
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="omlc-bench-") as cache:
        builder = _builder(config, num_patients, image_size, cache)
        start = time.perf_counter()
        builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
        seconds = time.perf_counter() - start
    # ru_maxrss is KiB on Linux; children are the num_proc workers, if any.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 2),
        "patients_per_s": round(num_patients / seconds, 1),
        "max_rss_mib": round(own, 1),
        "max_rss_worker_mib": round(children, 1),
    }


def _stream(config: str, num_patients: int, image_size: int) -> dict:
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="omlc-bench-") as cache:
        builder = _builder(config, num_patients, image_size, cache)
        streamed = builder.as_streaming_dataset(split="train")
        start = time.perf_counter()
        count = sum(1 for _ in streamed)
        seconds = time.perf_counter() - start
    return {
        "patients": count,
        "shards": streamed.num_shards,
        "seconds": round(seconds, 2),
        "patients_per_s": round(count / seconds, 1),
    }


def _run(*args: str) -> dict:
    """One measurement in a fresh interpreter (so that max RSS is its own)."""
    command = [sys.executable, __file__, "_measure", *args]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure the builder: prepare time, peak memory, streaming rate.",
        epilog="example: python benchmarks/builder_figures.py --quick",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10x fewer patients (a smoke run, not the figures)"
    )
    parser.add_argument("--image-size", type=int, default=224, help="image side (default: 224)")
    args, rest = parser.parse_known_args(argv)
    if rest[:1] == ["_measure"]:  # internal: one measurement in this process
        kind, config, count, size, num_proc = rest[1:]
        if kind == "prepare":
            result = _prepare(config, int(count), int(size), int(num_proc))
        else:
            result = _stream(config, int(count), int(size))
        print(json.dumps(result))
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    scale = 10 if args.quick else 1
    size = str(args.image_size)
    for num_proc in (1, 2):
        count = 1000 // scale
        figure = _run("prepare", "default", str(count), size, str(num_proc))
        label = {"figure": "prepare", "config": "default", "num_patients": count}
        print(json.dumps(label | {"image_size": args.image_size, "num_proc": num_proc} | figure))
    for count in (1000 // scale, 5000 // scale):
        figure = _run("prepare", "float32", str(count), size, "1")
        label = {"figure": "peak_memory", "config": "float32", "num_patients": count}
        print(json.dumps(label | {"image_size": args.image_size, "num_proc": 1} | figure))
    for config in ("default", "float32"):
        count = 1000 // scale
        figure = _run("stream", config, str(count), size, "1")
        label = {"figure": "streaming", "config": config, "num_patients": count}
        print(json.dumps(label | {"image_size": args.image_size, "split": "train"} | figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
