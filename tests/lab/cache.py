# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the lab keeps its files, its progress log and its locks."""

from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["cache_root", "lab_lock", "log"]


def cache_root() -> Path:
    """``$BALLOON_OOM_CACHE`` or ``~/.cache/balloon-oom``."""
    env = os.environ.get("BALLOON_OOM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "balloon-oom"


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


@contextmanager
def lab_lock(name: str = "lab") -> Iterator[None]:
    """Exclusive ``flock`` on ``<cache>/<name>.lock`` (blocks until free)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
