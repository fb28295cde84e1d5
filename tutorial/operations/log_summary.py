"""Warnings that come once a request under load, logged a few at a time.

A Redis that is down, or a server whose threads are all busy, would write
a line for every request: a flood in the log, and time spent writing it.
A LogSummary lets the first line of each kind through at once, then at
most one each ``interval`` seconds, which says how many it stands for.
"""
import threading
import time


class LogSummary:
    """Counts events by kind, and says when one is due to be logged."""

    def __init__(self, interval, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.lock = threading.Lock()
        # kind: (when its next line is due, events since its last line,
        # the largest value among them)
        self.kinds = {}

    def due(self, kind, value=0):
        """None while ``kind``'s lines are held; else how many events this
        line stands for (this one included) and the largest ``value``
        among them. The count starts again after each line."""
        now = self.clock()
        with self.lock:
            next_time, count, peak = self.kinds.get(kind, (0.0, 0, value))
            count, peak = count + 1, max(peak, value)
            if now < next_time:
                self.kinds[kind] = (next_time, count, peak)
                return None
            self.kinds[kind] = (now + self.interval, 0, 0)
        return count, peak
