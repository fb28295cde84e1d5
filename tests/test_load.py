"""Many concurrent visitors against `pserve production.ini`.

16 connections share 20,000 requests on 127.0.0.1, half of them returning
visitors who check that their own count rises by exactly one each time,
half first-time visitors. No request may fail, and the server's memory
must stay flat. Timing is not asserted here: bench/ measures it.
"""
import http.client
import threading
import time

from tutorial.sessions import SECRET_ENV
from tutorial.tests import count_on

from .support import Server

CONNECTIONS = 16
REQUESTS = 20_000
WARM_UP = 2_000
TIME_LIMIT = 600  # seconds: the run stops there, whatever is left
MAX_GROWTH_KB = 16 * 1024


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


class Visitor(threading.Thread):
    """One keep-alive connection; a returning or a first-time visitor."""

    def __init__(self, port, requests, returning, deadline):
        super().__init__()
        self.port = port
        self.requests = requests
        self.returning = returning
        self.deadline = deadline
        self.done = 0
        self.errors = []

    def run(self):
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                timeout=30)
        cookie = None
        try:
            for n in range(1, self.requests + 1):
                if time.monotonic() > self.deadline:
                    break
                try:
                    headers = {'Cookie': cookie} if cookie else {}
                    connection.request('GET', '/howdy' if n % 2 else '/',
                                       headers=headers)
                    response = connection.getresponse()
                    body = response.read().decode()
                    expected = n if self.returning else 1
                    if response.status != 200:
                        self.errors.append('status %d' % response.status)
                    elif count_on(body) != expected:
                        self.errors.append('count %d, not %d'
                                           % (count_on(body), expected))
                    if self.returning:
                        cookie = response.getheader('Set-Cookie') \
                            .split(';')[0]
                except Exception as e:
                    self.errors.append(repr(e))
                    connection.close()
                self.done += 1
        finally:
            connection.close()


def load(port, requests):
    deadline = time.monotonic() + TIME_LIMIT
    visitors = [Visitor(port, requests // CONNECTIONS, n % 2 == 0, deadline)
                for n in range(CONNECTIONS)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    return visitors


def test_many_concurrent_visitors_get_no_errors_and_memory_stays_flat():
    env = {SECRET_ENV: 'load-test-secret-0123456789-' * 3}
    with Server('production.ini', env=env) as server:
        warm_up = load(server.port, WARM_UP)
        before = rss_kb(server.process.pid)
        visitors = load(server.port, REQUESTS)
        after = rss_kb(server.process.pid)

    for visitor in warm_up + visitors:
        assert visitor.errors == [], visitor.errors[:5]
    done = sum(v.done for v in visitors)
    assert done == REQUESTS, 'only %d requests in %d s' % (done, TIME_LIMIT)
    assert after - before < MAX_GROWTH_KB, (before, after)
