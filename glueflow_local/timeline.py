"""The local run's timeline: one line per thing that happened, seconds since the start.

Lines are printed as they come (several threads write) and kept, so the end of a run can
say what happened and a test can read it.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Timeline:
    out: TextIO = sys.stdout
    started: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, kind: str, text: str) -> float:
        """Print `text` under a short `kind` (file, event, dag, task, glue, gate, cost, alert,
        ...); the time it was said, in seconds since the start."""
        at = self.elapsed()
        with self._lock:
            self.lines.append((at, kind, text))
            print(f"{at:7.1f}s  {kind:<7} {text}", file=self.out, flush=True)
        return at

    def find(self, kind: str, contains: str = "") -> list[tuple[float, str]]:
        with self._lock:
            return [(at, text) for at, k, text in self.lines if k == kind and contains in text]
