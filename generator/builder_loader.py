"""Import the ``datasets`` builder script ``open_multimodal_liver_cirrhosis.py``.

``pip install -e .`` maps it as a module; from a plain checkout it is imported from the
repository root, beside ``generator``.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import datasets

BUILDER_MODULE = "open_multimodal_liver_cirrhosis"
#: The repository root, where the builder script lives.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def load_builder_module() -> types.ModuleType:
    """The builder script ``open_multimodal_liver_cirrhosis`` at the repository root."""
    try:
        return importlib.import_module(BUILDER_MODULE)
    except ModuleNotFoundError as error:
        if error.name != BUILDER_MODULE or not (REPOSITORY_ROOT / f"{BUILDER_MODULE}.py").is_file():
            raise
    # Worker processes inherit ``sys.path``, so they import it by name too.
    sys.path.insert(0, str(REPOSITORY_ROOT))
    return importlib.import_module(BUILDER_MODULE)


def load_builder_class() -> type[datasets.GeneratorBasedBuilder]:
    """``OpenMultimodalLiverCirrhosis``, the dataset's builder."""
    return load_builder_module().OpenMultimodalLiverCirrhosis
