"""Heavy libraries imported on first use.

``datasets`` (with pandas and the Hub client it pulls in) takes about a second to
import. The export needs it only to write Parquet, the card and the Croissant file, so
a rerun with nothing to write (which hashes the kept files and stops) never pays for it.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def lazy_module(name: str) -> types.ModuleType:
    """The module ``name``, executed when one of its attributes is first used
    (``importlib.util.LazyLoader``); the module itself if it is already imported."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
