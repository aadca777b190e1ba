"""`Wakeup`: lets threads of one worker process wake each other instead of polling on a timer.

A job thread calls `notify()` when its job ends, and a pipeline driver when it has created jobs;
the claim loop and the drivers `wait()` with a timeout, which stays as the fallback for events from
other processes (the API, other workers). The generation counter means no notification is lost
between a look at the store and the wait that follows it.
"""

from __future__ import annotations

import threading


class Wakeup:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        with self._condition:
            return self._generation

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, since: int, timeout: float) -> int:
        """Block until a notification newer than generation `since`, or `timeout`; the new generation."""
        with self._condition:
            self._condition.wait_for(lambda: self._generation != since, timeout)
            return self._generation
