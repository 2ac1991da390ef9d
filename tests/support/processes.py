"""Stopping child processes the way the services expect: SIGTERM (their graceful shutdown), then
SIGKILL if they are still running after `timeout` seconds."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(proc: subprocess.Popen[Any], timeout: float) -> int:
    """Stops `proc` (no-op when it already exited) and returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
