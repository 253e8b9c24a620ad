"""A run folder in use is locked, and its location is checked before training starts.

The lock is an advisory `fcntl.flock` on RUN_DIR/.lock held for the whole run: the kernel releases
it when the process dies (even by SIGKILL), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from types import TracebackType

from vaekit.errors import ConfigError
from vaekit.runs.paths import RunPaths

MIN_FREE_BYTES = 64 * 2**20  # room for the run's config, logs and pictures beyond the checkpoints


class RunLock:
    """Exclusive lock of a run folder; a second trainer into the same folder is refused."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunPaths(Path(run_dir)).lock
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(f"run folder {self.path.parent} is not writable: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ConfigError(f"run folder {self.path.parent} is in use by {holder}: wait for it to finish, "
                              "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def check_writable(run_dir: Path, needed_bytes: int) -> None:
    """Fail before training when the run folder cannot be created or written, or when its file system
    has less free space than `needed_bytes` (a few checkpoints) plus MIN_FREE_BYTES."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"run folder {run_dir} is not writable: {e.strerror or e}") from None
    free = shutil.disk_usage(run_dir).free
    if free < needed_bytes + MIN_FREE_BYTES:
        raise ConfigError(f"run folder {run_dir}: only {free / 2**20:.0f} MiB free, the run needs about "
                          f"{(needed_bytes + MIN_FREE_BYTES) / 2**20:.0f} MiB (checkpoints, logs, pictures)")
