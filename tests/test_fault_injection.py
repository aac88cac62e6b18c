"""Fault injection: the export is killed (``os._exit``, as ``kill -9`` would) at seeded
random points of every stage, then rerun; the folder must end byte-identical to an
uninterrupted export's and verify.

A point is the n-th event of a run: a file committed by an atomic write (``os.replace``)
or a line appended to the export's record. The run dies just before the event (the
write's temporary file is left behind, the record's line is torn in half) or just
after it (the file is in place but not yet recorded, or the record is ahead of what
follows). The run is a forked child of this process, with one worker, so the points
are the same on every run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from generator.export import main
from generator.export_record import ExportRecord
from generator.layout import LOCK_FILE, RECORD_FILE
from generator.manifest import verify_manifest

SMALL = ["--num-patients", "12", "--image-size", "32", "--quiet", "--workers", "1"]
#: Points drawn per stage, and the seed of the draw.
POINTS_PER_STAGE, SEED = 6, 2026
KILLED = 137


def stage_of(event: str) -> str:
    """The export stage an event belongs to, from the file it commits."""
    if event in ("record", RECORD_FILE):  # an appended line, or the record saved whole
        return "record"
    name = event.split("/")[-1]
    top = event.split("/")[0]
    stages = {"images": "npy", ".parts": "parts", "data": "parquet", "assets": "card"}
    if top in stages:
        return stages[top]
    if name in ("labels.csv", "metadata.csv", "generation.json"):
        return "tables"
    if name in ("README.md", "croissant.json"):
        return "card"
    return "manifest" if name == "manifest-sha256.txt" else "other"


def _install(out: Path, point: int | None, when: str, log: list[str]) -> None:
    """Count events into ``log``; at event ``point``, die ``when`` ("before"/"after") it."""
    real_replace, real_append = os.replace, ExportRecord._append

    def event(name: str, perform, tear) -> None:
        log.append(name)
        if len(log) == point and when == "before":
            tear()
            os._exit(KILLED)
        perform()
        if len(log) == point and when == "after":
            os._exit(KILLED)

    def replace(source, target):
        relative = Path(target).resolve().relative_to(out.resolve()).as_posix()
        event(relative, lambda: real_replace(source, target), lambda: None)

    def append(record, entry):
        line = json.dumps(entry) + "\n"

        def tear():
            with open(record.folder / RECORD_FILE, "a", encoding="utf-8") as handle:
                handle.write(line[: len(line) // 2])

        event("record", lambda: real_append(record, entry), tear)

    os.replace = replace
    ExportRecord._append = append


def run_in_child(out: Path, point: int | None, when: str, log_file: Path) -> int:
    """Run the export in a forked child with the fault installed; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        log: list[str] = []
        status = 1
        try:
            _install(out, point, when, log)
            status = main(["--out", str(out), *SMALL])
        finally:
            log_file.write_text("\n".join(log))
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def export_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in (LOCK_FILE, RECORD_FILE)
    }


@pytest.fixture(scope="module")
def reference_and_events(tmp_path_factory):
    """An uninterrupted export and the events of its run, in order."""
    root = tmp_path_factory.mktemp("faults")
    log_file = root / "events.txt"
    assert run_in_child(root / "reference", None, "never", log_file) == 0
    return root / "reference", log_file.read_text().splitlines()


def drawn_points(events: list[str]) -> list[tuple[int, str, str]]:
    """``(point, when, stage)``: ``POINTS_PER_STAGE`` seeded draws in every stage."""
    by_stage = defaultdict(list)
    for number, name in enumerate(events, start=1):
        by_stage[stage_of(name)].append(number)
    draw = random.Random(SEED)
    # The first event, both ways: the record's first save, before any other file.
    points = [(1, "before", stage_of(events[0])), (1, "after", stage_of(events[0]))]
    for stage, numbers in sorted(by_stage.items()):
        for number in draw.sample(numbers, min(POINTS_PER_STAGE, len(numbers))):
            points.append((number, draw.choice(("before", "after")), stage))
    return points


def test_every_stage_has_events(reference_and_events):
    _, events = reference_and_events
    stages = {stage_of(name) for name in events}
    assert stages == {"record", "npy", "parts", "parquet", "tables", "card", "manifest"}
    assert len(drawn_points(events)) >= 30


def test_killed_anywhere_the_rerun_is_byte_identical_and_verifies(reference_and_events, tmp_path):
    reference, events = reference_and_events
    expected = export_files(reference)
    tried = []
    for point, when, stage in drawn_points(events):
        out = tmp_path / f"killed-{point}-{when}"
        status = run_in_child(out, point, when, tmp_path / "log.txt")
        assert status == KILLED, f"point {point} ({stage}, {when}) was never reached"
        assert main(["--out", str(out), *SMALL]) == 0, f"rerun after {point} {when}"
        assert export_files(out) == expected, f"differs after a kill at {point} ({stage}, {when})"
        assert verify_manifest(out).ok
        tried.append((point, when, stage))
        shutil.rmtree(out)
    print(f"fault injection: {len(tried)} points over {len(events)} events: {tried}")
