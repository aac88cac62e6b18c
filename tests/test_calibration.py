"""benchmarks/calibration.py: the baselines' difficulty checks on several seeds."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from benchmarks.calibration import SUMMARY_HEADERS, main, summary_row


def result_with(aurocs: dict[str, float], accuracy: float) -> dict:
    """A ``run_baselines`` result holding one learned model per modality and the majority."""
    rows = [
        {"modality": modality, "model": "pixels", "auroc": value, "accuracy": accuracy}
        for modality, value in aurocs.items()
    ]
    rows.append({"modality": "-", "model": "majority", "auroc": 0.5, "accuracy": 0.9})
    return {"results": rows}


def test_summary_row_passes_inside_the_targets():
    row = summary_row(7, result_with({"MRI": 0.8, "CT": 0.85, "US": 0.9, "fused": 0.95}, 0.6))
    assert row == ["7", "0.800", "0.850", "0.900", "0.950", "0.600", "PASS"]
    assert len(row) == len(SUMMARY_HEADERS)


def test_summary_row_counts_the_failed_checks():
    """CT above 0.92, fused not 0.03 above it: two checks fail (the majority's 0.9
    accuracy is not a learned model's)."""
    row = summary_row(1, result_with({"MRI": 0.8, "CT": 0.95, "US": 0.9, "fused": 0.96}, 0.6))
    assert row[-1] == "FAIL (2)"


def test_quick_run_prints_one_summary_row_per_seed(capsys):
    assert main(["--quick", "--seeds", "0,1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("### Seed ") == 2
    summary = [line for line in out.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
    assert len(summary) == 2 and all(line.rstrip(" |").split("| ")[-1] for line in summary)
