"""Beyond the step: waitress's queue warnings, one a minute at most.

waitress warns "Task queue depth is N" each time a request has to wait
for a free thread. That is worth knowing (the server is saturated), but
under load it is once a request: a flood in the log, and time the server
spends writing it. With ``tutorial.queue_warning_interval`` set (seconds;
production.ini: 60), the first warning is logged, then at most one each
interval, saying how many it stands for and how deep the queue got.
"""
import logging
import threading
import time

QUEUE_LOGGER = 'waitress.queue'


class QueueWarningSummary(logging.Filter):
    """Lets one queue warning through per interval, as a summary."""

    def __init__(self, interval):
        super().__init__()
        self.interval = interval
        self.lock = threading.Lock()
        self.next_time = 0.0
        self.held = 0
        self.deepest = 0

    def filter(self, record):
        depth = record.args[0] if isinstance(record.args, tuple) \
            and record.args and isinstance(record.args[0], int) else 0
        now = time.monotonic()
        with self.lock:
            self.held += 1
            self.deepest = max(self.deepest, depth)
            if now < self.next_time:
                return False
            record.msg = ('Task queue depth is %d: all threads busy '
                          '(%d such warnings in %d s, the deepest %d)')
            record.args = (depth, self.held, self.interval, self.deepest)
            self.next_time = now + self.interval
            self.held = 0
            self.deepest = 0
        return True


def includeme(config):
    setting = config.get_settings().get('tutorial.queue_warning_interval',
                                        '0')
    try:
        interval = int(setting)
    except ValueError:
        raise SystemExit('tutorial: tutorial.queue_warning_interval is %r; '
                         'it must be a whole number of seconds' % setting)
    logger = logging.getLogger(QUEUE_LOGGER)
    # one summary per process, however many times an app is made
    for old in [f for f in logger.filters
                if isinstance(f, QueueWarningSummary)]:
        logger.removeFilter(old)
    if interval > 0:
        logger.addFilter(QueueWarningSummary(interval))
