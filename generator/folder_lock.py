"""One export per folder at a time: an exclusive lock on ``<folder>/.export-lock``.

The lock is a ``flock`` on the lock file, so the kernel releases it when its holder
exits however it ends (``kill -9`` included): a killed run's successor finds the lock
free and takes it, with no stale file to clean up. The file holds the holder's process
id and host for the message a second run prints; it stays in the folder (removing it
would let two runs lock two different files).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from generator.layout import LOCK_FILE


class FolderBusyError(Exception):
    """Another process holds the folder's lock; the message names it."""


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s export lock for the block; raise ``FolderBusyError`` if it is taken."""
    path = Path(folder) / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
            raise FolderBusyError(
                f"another export ({holder or 'a running process'}) is writing to {folder}; "
                "wait for it to finish or stop it, then rerun"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock
