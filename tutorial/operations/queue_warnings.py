"""Beyond the step: waitress's queue warnings, one a minute at most.

waitress warns "Task queue depth is N" each time a request has to wait
for a free thread. That is worth knowing (the server is saturated), but
under load it is once a request. With ``tutorial.queue_warning_interval``
set (seconds), the first warning is logged, then at most one each
interval, saying how many it stands for and how deep the queue got.
(Production serves on uWSGI, whose workers queue nothing in Python;
development and redis.ini keep waitress, as the tutorial does.)
"""
import logging

from ..config.settings import int_setting
from .log_summary import LogSummary

QUEUE_LOGGER = 'waitress.queue'


class QueueWarningSummary(logging.Filter):
    """Lets one queue warning through per interval, as a summary."""

    def __init__(self, interval, summary=None):
        super().__init__()
        self.interval = interval
        self.summary = summary or LogSummary(interval)

    def filter(self, record):
        depth = record.args[0] if isinstance(record.args, tuple) \
            and record.args and isinstance(record.args[0], int) else 0
        due = self.summary.due('queue', depth)
        if due is None:
            return False
        count, deepest = due
        record.msg = ('Task queue depth is %d: all threads busy '
                      '(%d such warnings in %d s, the deepest %d)')
        record.args = (depth, count, self.interval, deepest)
        return True


def includeme(config):
    interval = int_setting(config.get_settings(),
                           'tutorial.queue_warning_interval', default=0,
                           unit='seconds')
    logger = logging.getLogger(QUEUE_LOGGER)
    # one summary per process, however many times an app is made
    for old in [f for f in logger.filters
                if isinstance(f, QueueWarningSummary)]:
        logger.removeFilter(old)
    if interval > 0:
        logger.addFilter(QueueWarningSummary(interval))
