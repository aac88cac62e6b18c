"""Heavy libraries are imported on first use, so a rerun with nothing to write skips them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from generator.lazy_import import lazy_module

REPO = Path(__file__).resolve().parent.parent


def test_module_runs_on_first_attribute_use(tmp_path, monkeypatch):
    (tmp_path / "probe_module_for_lazy_import.py").write_text(
        "import sys\nsys.probe_runs = getattr(sys, 'probe_runs', 0) + 1\nVALUE = 7\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delattr(sys, "probe_runs", raising=False)
    try:
        module = lazy_module("probe_module_for_lazy_import")
        assert not hasattr(sys, "probe_runs")
        assert module.VALUE == 7
        assert sys.probe_runs == 1
        assert lazy_module("probe_module_for_lazy_import") is module
        assert sys.probe_runs == 1
    finally:
        sys.modules.pop("probe_module_for_lazy_import", None)


def test_unknown_module_is_refused_at_once():
    try:
        lazy_module("no_such_module_for_lazy_import")
    except ModuleNotFoundError as error:
        assert "no_such_module_for_lazy_import" in str(error)
    else:
        raise AssertionError("an unknown module was accepted")


def test_export_cli_imports_neither_datasets_nor_pandas():
    """``datasets`` (and the pandas it imports) load only when a part is written."""
    code = (
        "import sys; import generator.export; "
        "print('pandas' in sys.modules, 'datasets.arrow_dataset' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
