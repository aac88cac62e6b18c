"""One export per folder at a time: an exclusive lock on ``<folder>/.export-lock``.

On a local folder the lock is a ``flock`` on the lock file, so the kernel releases it
when its holder exits however it ends (``kill -9`` included): a killed run's successor
finds the lock free and takes it, with no stale file to clean up. The file holds the
holder's process id and host for the message a second run prints; it stays in the
folder (removing it would let two runs lock two different files).

An object store has no ``flock``. At a URL (``generator.storage.UrlFolder``) the lock is
an object, ``.export-lock``, naming its holder (process id, host, a random token) and
the time it was last refreshed; the holder rewrites it every ``LOCK_REFRESH_SECONDS``
and deletes it when it ends. A run finding the object refuses the folder unless the
lock is stale: its holder ran on this host and is gone, or it was not refreshed for
``LOCK_STALE_SECONDS`` (a driver killed on another host). ``--force`` does not override
a live lock. The store gives no atomic create, so two drivers started within
``LOCK_SETTLE_SECONDS`` of each other are told apart by reading the object back after
that delay (the later writer keeps it), and a holder that finds another's token when it
refreshes stops with an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from generator.layout import LOCK_FILE
from generator.storage import UrlFolder

#: How often the holder of a lock at a URL rewrites it, s.
LOCK_REFRESH_SECONDS = 30.0
#: A lock at a URL not refreshed for this long is a dead driver's, s.
LOCK_STALE_SECONDS = 120.0
#: From writing a lock at a URL to reading it back, s.
LOCK_SETTLE_SECONDS = 1.0


class FolderBusyError(Exception):
    """Another process holds the folder's lock; the message names it."""


def _busy(holder: str, folder: object) -> FolderBusyError:
    return FolderBusyError(
        f"another export ({holder or 'a running process'}) is writing to {folder}; "
        "wait for it to finish or stop it, then rerun"
    )


@contextlib.contextmanager
def folder_lock(
    folder: str | Path | UrlFolder,
    *,
    say: Callable[[str], object] = lambda message: print(message, file=sys.stderr),
) -> Iterator[Callable[[], None]]:
    """Hold ``folder``'s export lock for the block; raise ``FolderBusyError`` if it is taken.

    Yields ``check()``, which raises ``FolderBusyError`` if the lock was lost (at a URL,
    taken over by another driver); ``say`` reports a stale lock taken over.
    """
    if isinstance(folder, UrlFolder):
        with _object_lock(folder, say) as check:
            yield check
        return
    path = Path(folder) / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
            raise _busy(holder, folder) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield lambda: None
    finally:
        os.close(descriptor)  # releases the lock


def _holder(folder: UrlFolder) -> dict | None:
    """The lock object's fields (``pid``, ``host``, ``token``, ``refreshed``: Unix time,
    s); ``None`` if there is none; ``FolderBusyError`` if it cannot be read as one."""
    try:
        holder = json.loads(folder.read_text(LOCK_FILE))
        if not (
            isinstance(holder, dict)
            and isinstance(holder.get("pid"), int)
            and isinstance(holder.get("host"), str)
            and isinstance(holder.get("refreshed"), (int, float))
        ):
            raise ValueError("not a lock")
    except FileNotFoundError:
        return None
    except ValueError:
        raise FolderBusyError(
            f"{folder}/{LOCK_FILE} is not an export's lock; if no export is writing to "
            f"{folder}, delete it and rerun"
        ) from None
    return holder


def _describe(holder: dict) -> str:
    age = max(0.0, time.time() - holder["refreshed"])
    return f"pid {holder['pid']} on {holder['host']}, refreshed {age:.0f} s ago"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _stale(holder: dict) -> str | None:
    """Why the lock of ``holder`` is stale, or ``None`` if its holder may be running."""
    if holder["host"] == socket.gethostname() and not _process_exists(holder["pid"]):
        return "its process is gone"
    age = time.time() - holder["refreshed"]
    if age > LOCK_STALE_SECONDS:
        return f"not refreshed for {age:.0f} s"
    return None


def _write_holder(folder: UrlFolder, token: str) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "token": token,
        "refreshed": round(time.time(), 3),
    }
    folder.write_text(LOCK_FILE, json.dumps(holder) + "\n")


class _Refresher(threading.Thread):
    """Rewrites the lock object every ``LOCK_REFRESH_SECONDS`` while it holds our token."""

    def __init__(self, folder: UrlFolder, token: str) -> None:
        super().__init__(name="export-lock", daemon=True)
        self.folder, self.token = folder, token
        self.stopped = threading.Event()
        self.lost: str | None = None  # the holder that took the lock over

    def run(self) -> None:
        while not self.stopped.wait(LOCK_REFRESH_SECONDS):
            try:
                holder = _holder(self.folder)
                if holder is None or holder.get("token") != self.token:
                    self.lost = _describe(holder) if holder else "its lock was deleted"
                    return
                _write_holder(self.folder, self.token)
            except (OSError, FolderBusyError):
                continue  # a failed round; the next one tries again

    def check(self) -> None:
        if self.lost is not None:
            raise FolderBusyError(
                f"another export ({self.lost}) took over the lock of {self.folder} while "
                "this run was writing; this run stopped: rerun once the other is done"
            )


@contextlib.contextmanager
def _object_lock(folder: UrlFolder, say: Callable[[str], object]) -> Iterator[Callable[[], None]]:
    holder = _holder(folder)
    if holder is not None:
        reason = _stale(holder)
        if reason is None:
            raise _busy(_describe(holder), folder)
        who = f"pid {holder['pid']} on {holder['host']}"
        say(f"taking over the lock of {folder} from {who}: {reason}")
    token = secrets.token_hex(8)
    _write_holder(folder, token)
    refresher = None
    try:
        time.sleep(LOCK_SETTLE_SECONDS)
        current = _holder(folder)
        if current is None or current.get("token") != token:
            raise _busy(_describe(current) if current else "", folder)
        refresher = _Refresher(folder, token)
        refresher.start()
        yield refresher.check
    finally:
        if refresher is not None:
            refresher.stopped.set()
            refresher.join()
        with contextlib.suppress(OSError, FolderBusyError):
            current = _holder(folder)
            if current is not None and current.get("token") == token:
                folder.remove([LOCK_FILE])
