"""Progress display for long steps: a bar on a terminal, plain lines in CI logs.

`Progress` is a dbt event callback (`dbtRunner(callbacks=[progress])`): it counts finished
nodes (models, seeds, data tests, unit tests) against the total dbt announces, and remembers
the nodes that failed so the runner can name them in its one closing message.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class NodeOutcome:
    """One finished dbt node as reported by its NodeFinished event."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str


def progress_enabled() -> bool:
    """Progress is on unless SPENDLENS_PROGRESS is 0/false/no (then dbt prints its own lines)."""
    return os.environ.get("SPENDLENS_PROGRESS", "1").strip().lower() not in {"0", "false", "no"}


class Progress:
    """Counts dbt nodes as they finish and draws `done/total` with the elapsed time."""

    def __init__(self, stream: TextIO | None = None, is_tty: bool | None = None,
                 enabled: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = self.stream.isatty() if is_tty is None else is_tty
        self.enabled = enabled
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.outcomes: list[NodeOutcome] = []
        self._lock = threading.Lock()
        self._bar_drawn = False

    # -- plain steps -------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, text: str) -> None:
        """One line for a step outside dbt (locking, publishing, ...)."""
        if not self.enabled:
            return
        with self._lock:
            self._clear_bar()
            self.stream.write(f"[{self.elapsed():6.1f}s] {text}\n")
            self.stream.flush()

    def finish(self) -> None:
        with self._lock:
            if self._bar_drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._bar_drawn = False

    # -- dbt callback ------------------------------------------------------------------------
    def __call__(self, event: Any) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a display problem must never break the build
            pass

    def _on_event(self, event: Any) -> None:
        name = event.info.name
        if name in {"LogStartLine", "LogModelResult", "LogSeedResult"}:
            total = int(getattr(event.data, "total", 0) or 0)
            if total > self.total:
                self.total = total
        elif name == "LogTestResult":
            total = int(getattr(event.data, "num_models", 0) or 0)
            if total > self.total:
                self.total = total
        elif name == "NodeFinished":
            info = event.data.node_info
            run_result = event.data.run_result
            outcome = NodeOutcome(
                unique_id=info.unique_id,
                name=info.node_name,
                resource_type=info.resource_type,
                status=(run_result.status or info.node_status or "").lower(),
                message=(run_result.message or "").strip(),
            )
            with self._lock:
                self.done += 1
                self.outcomes.append(outcome)
                if self.enabled and (self.is_tty or outcome.status != "skipped"):
                    self._draw(outcome)

    def _draw(self, outcome: NodeOutcome) -> None:
        total = max(self.total, self.done)
        label = f"{outcome.resource_type} {outcome.name}"
        if self.is_tty:
            width = shutil.get_terminal_size((100, 20)).columns
            bar_width = 24
            filled = int(bar_width * self.done / total) if total else 0
            bar = "#" * filled + "." * (bar_width - filled)
            line = f"dbt build [{bar}] {self.done}/{total} {self.elapsed():6.1f}s {label}"
            self.stream.write("\r" + line[: width - 1].ljust(width - 1))
            self._bar_drawn = True
        else:
            self.stream.write(
                f"[{self.elapsed():6.1f}s] {self.done:>4}/{total} {outcome.status:<7} {label}\n"
            )
        self.stream.flush()

    def _clear_bar(self) -> None:
        if self._bar_drawn:
            self.stream.write("\n")
            self._bar_drawn = False

    def failures(self) -> list[NodeOutcome]:
        return [o for o in self.outcomes if o.status in {"error", "fail", "runtime error"}]
