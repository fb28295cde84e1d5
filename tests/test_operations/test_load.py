"""Many concurrent visitors against `pserve production.ini`.

16 connections share 20,000 requests on 127.0.0.1, half of them returning
visitors who check that their own count rises by exactly one each time,
half first-time visitors. No request may fail, and the server's memory
must stay flat. Timing is not asserted here: bench/ measures it.
"""
import gc
import re

from tutorial.pages.flash import RESET_MESSAGE
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.cookies import count_on
from tests.support.processes import group_rss_kb
from tests.support.servers import Server
from tests.support.visitors import TIME_LIMIT, load
from tests.support.wsgi import wsgi_request


REQUESTS = 20_000
WARM_UP = 2_000
MAX_GROWTH_KB = 16 * 1024


def test_many_concurrent_visitors_get_no_errors_and_memory_stays_flat():
    env = {SECRET_ENV: 'load-test-secret-0123456789-' * 3}
    with Server('production.ini', env=env) as server:
        warm_up = load(server.port, WARM_UP)
        before = group_rss_kb(server.process.pid)
        visitors = load(server.port, REQUESTS)
        after = group_rss_kb(server.process.pid)

    for visitor in warm_up + visitors:
        assert visitor.errors == [], visitor.errors[:5]
    done = sum(v.done for v in visitors)
    assert done == REQUESTS, 'only %d requests in %d s' % (done, TIME_LIMIT)
    assert after - before < MAX_GROWTH_KB, (before, after)


def test_pages_leave_nothing_for_the_garbage_collector(app_from_ini):
    # A reference cycle made on every request (a bound method on the
    # request, say) is freed only by Python's cycle collector, whose runs
    # grow with the heap and stall every thread of the server. (Error
    # pages raise an exception inside Pyramid, whose traceback is such a
    # cycle: those are rare, and the printed step has them too.)
    app = app_from_ini('production.ini')

    def visit():
        status, cookie, page = wsgi_request(app, 'GET', '/')
        token = re.search(rb'name="csrf_token" value="(\w+)"', page).group(1)
        status, cookie, page = wsgi_request(app, 'GET', '/howdy', cookie)
        assert count_on(page.decode()) == 2
        status, cookie, page = wsgi_request(
            app, 'POST', '/reset', cookie, b'csrf_token=' + token)
        assert status.startswith('303')
        status, cookie, page = wsgi_request(app, 'GET', '/', cookie)
        assert RESET_MESSAGE.encode() in page

    visit()  # templates compiled, caches filled
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            visit()
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
