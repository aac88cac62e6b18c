"""Optional extras: import a heavy dependency or say, in one line, how to install it."""

from __future__ import annotations

import importlib
import types

#: The optional extras of ``pyproject.toml`` and the modules they provide.
EXTRAS = {"medical": ("pydicom", "nibabel"), "ray": ("ray",)}


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed; the message says which extra to install."""


def require(module: str, extra: str, purpose: str) -> types.ModuleType:
    """Import ``module`` (from the optional ``extra``) or raise ``MissingExtraError``.

    ``purpose`` completes the message: "<purpose> needs <module>: pip install -e ".[extra]"".
    """
    if module not in EXTRAS.get(extra, ()):
        raise ValueError(f"{module!r} is not a module of the extra {extra!r}")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f'{purpose} needs {module}, which is not installed: pip install -e ".[{extra}]"'
        ) from None
