"""Files basket reads and writes, handled as a hostile user might have prepared them.

* :func:`read_bounded` reads a regular file only, of at most a given size, and never blocks: a
  FIFO, a device (``/dev/zero``), a socket or a folder is refused before anything is read.
* :func:`atomic_write` writes through a temporary file created exclusively (``O_EXCL``, a
  unique random name) in the target's folder, then renamed over the target: a symlink planted
  at a temporary or final name is replaced, never followed, and readers see the old file or
  the new one, never a mix.

Both raise :class:`UnreadableFile` / :class:`OSError`; callers turn them into the error of their
stage (a basket file, a run folder, the cache), naming the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path


class UnreadableFile(Exception):
    """A file that must not be read; ``reason`` completes "<path>: <reason>"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.3g} MB" if size >= 100_000 else f"{size:,} bytes"


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, which must hold at most ``limit`` bytes.

    Opened non-blocking (a FIFO cannot hang the open) and checked with ``fstat`` on the open
    descriptor (no window between the check and the read); reading stops at ``limit + 1``
    bytes, so a file that grows meanwhile is refused too.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile("file not found") from None
    except OSError as error:
        raise UnreadableFile(f"cannot be read ({error.strerror})") from None
    # Checked before os.fdopen, which refuses a folder with its own IsADirectoryError.
    facts = os.fstat(fd)
    if not stat.S_ISREG(facts.st_mode):
        os.close(fd)
        raise UnreadableFile(f"is {_kind(facts.st_mode)}, not a file")
    if facts.st_size > limit:  # refused before a byte is read
        os.close(fd)
        raise UnreadableFile(f"is larger than the limit of {_megabytes(limit)}")
    with os.fdopen(fd, "rb") as handle:
        os.set_blocking(fd, True)
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise UnreadableFile(f"cannot be read ({error.strerror})") from None
    if len(data) > limit:
        raise UnreadableFile(f"is larger than the limit of {_megabytes(limit)}")
    return data


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix.

    The temporary file is made by :func:`tempfile.mkstemp` (``O_CREAT | O_EXCL``, a random
    hidden name ``.<name>.pid<pid>.*.tmp``) in the same folder, fsynced, then renamed with
    :func:`os.replace` onto ``path``: a symlink at ``path`` is replaced by the file, its target
    is never written.  The file gets the permissions the umask gives a new file (``mkstemp``
    alone would give 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(path.parent)


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_prefix(name: str) -> str:
    """The start of a hidden temporary name for ``name``, carrying this process's id so that a
    later process can tell a leftover of a killed one (:func:`remove_leftovers`)."""
    return f".{name}.pid{os.getpid()}."


_OWNER = re.compile(r"\.pid(\d+)\.")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours to signal
        return True
    return True


def remove_leftovers(folder: str | Path, suffix: str) -> list[str]:
    """Remove the hidden temporaries ``.<name>.pid<pid>.*<suffix>`` (files or folders) in
    ``folder`` whose process no longer runs: what a killed run or import left behind.  Those of
    running processes are theirs and stay.  Returns the names removed."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        owner = _OWNER.search(entry.name)
        if not (entry.name.startswith(".") and entry.name.endswith(suffix) and owner):
            continue
        if _running(int(owner.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        if not entry.exists() and not entry.is_symlink():
            removed.append(entry.name)
    return removed
