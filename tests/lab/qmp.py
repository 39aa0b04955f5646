# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal synchronous QMP client over a Unix socket (no third-party library).

QMP is line-delimited JSON: a greeting, then ``{"execute": ...}`` commands each
answered by ``{"return": ...}`` or ``{"error": ...}``, with asynchronous
``{"event": ...}`` messages (e.g. ``BALLOON_CHANGE``) interleaved; events are
kept in :attr:`QMP.events`.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Dict, List, Optional

__all__ = ["QMP", "QMPError"]


class QMPError(RuntimeError):
    """A QMP ``{"error": {"class": ..., "desc": ...}}`` answer."""


class QMP:
    """Connected, capabilities-negotiated QMP session.

    >>> # qmp = QMP("/tmp/run/qmp.sock"); qmp.cmd("query-balloon") -> {'actual': 536870912}
    """

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self._buf = b""
        self.events: List[Dict[str, Any]] = []
        self.greeting = self._read()
        self.cmd("qmp_capabilities")

    def _read(self) -> Dict[str, Any]:
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP socket closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, execute: str, timeout: Optional[float] = None, **arguments: Any) -> Any:
        """Run ``execute`` and return its ``return`` value; raise :class:`QMPError`."""
        msg: Dict[str, Any] = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while True:
                reply = self._read()
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    raise QMPError(f"{execute}: {reply['error'].get('class')}: {reply['error'].get('desc')}")
                return reply.get("return")
        finally:
            self.sock.settimeout(old)

    def close(self) -> None:
        self.sock.close()
