"""Visitors over real sockets: one page on a connection, a visitor that
browses while a test does something to the server, many at once, and
raw bytes."""
import http.client
import socket
import ssl
import threading
import time

from .cookies import count_on


def one_page(connection, path='/', cookie=None):
    """One page on ``connection``, which it closes: its status, the count
    shown, and the cookie to keep."""
    try:
        connection.request('GET', path,
                           headers={'Cookie': cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    set_cookie = response.headers.get('Set-Cookie')
    count = count_on(body) if response.status == 200 else None
    return (response.status, count,
            set_cookie.split(';')[0] if set_cookie else cookie)


class Visitor(threading.Thread):
    """A visitor asking for / one page at a time, each on a connection
    ``connect()`` makes (a new one, so that any worker may take it), and
    carrying its session cookie, for as long as its ``with`` block runs.
    It keeps the counts its pages showed, and every status: 'connection
    lost' for a connection closed with no answer."""

    def __init__(self, connect, cookie=None):
        super().__init__()
        self.connect, self.cookie = connect, cookie
        self.counts, self.statuses = [], []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                status, count, cookie = one_page(self.connect(), '/',
                                                 self.cookie)
            except (OSError, http.client.HTTPException):
                self.statuses.append('connection lost')
                continue
            self.statuses.append(status)
            if status == 200:
                self.counts.append(count)
                self.cookie = cookie

    def lost(self):
        return self.statuses.count('connection lost')

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join(15)


def visit_concurrently(server, visitors, seconds):
    """``visitors`` threads each load /howdy for ``seconds``; return the
    statuses seen and the longest answer, in seconds."""
    statuses, longest = [], [0.0]
    stop = time.monotonic() + seconds

    def visit():
        while time.monotonic() < stop:
            started = time.monotonic()
            status, headers, body = server.get('/howdy')
            longest[0] = max(longest[0], time.monotonic() - started)
            statuses.append(status)

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, longest[0]


def read_to_close(s, first=10, idle=1):
    """What socket ``s`` (plain or TLS) receives until the server hangs up,
    or ``idle`` seconds pass with nothing more (``first`` seconds for the
    first bytes): those bytes, and whether the server hung up."""
    s.settimeout(first)
    received = b''
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return received, True
            received += data
            s.settimeout(idle)
    except ConnectionResetError:
        return received, True
    except (socket.timeout, ssl.SSLError):  # a TLS read times out so too
        return received, False


def status_of(answer):
    """An answer's status, or None where there is none."""
    return int(answer.split()[1]) if answer.startswith(b'HTTP/') else None


def raw_request(port, request, timeout=10):
    """Send ``request`` (bytes) to 127.0.0.1:``port`` as it is, and return
    the answer's status and all of the answer (None and b'' when the
    server hung up without one). The answer ends where the server hangs
    up, or a second after it last sent anything (a connection kept
    alive)."""
    with socket.create_connection(('127.0.0.1', port), timeout) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, closed = read_to_close(s, first=timeout)
    if not answer and not closed:
        raise socket.timeout('no answer in %s s' % timeout)
    return status_of(answer), answer


def connection(port, timeout=10):
    """A new connection to ``port`` (so that any worker may take it)."""
    return http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)


def status_on(connection, path):
    """The status of GET ``path`` on ``connection`` (which it closes), or
    None while nothing answers."""
    try:
        connection.request('GET', path)
        with connection.getresponse() as response:
            response.read()
            return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def post_reset(port, cookie, token):
    """Press Reset, with the form's token, on a connection of its own:
    the answer's status."""
    conn = connection(port)
    try:
        conn.request('POST', '/reset', body='csrf_token=' + token,
                     headers={'Cookie': cookie, 'Content-Type':
                              'application/x-www-form-urlencoded'})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def visit(port, path='/', cookie=None, timeout=10):
    """One page on a connection of its own: its status, the count shown,
    and the cookie to keep."""
    return one_page(connection(port, timeout), path, cookie)


#: How many connections load() opens, and how long it may take in all.
CONNECTIONS = 16
TIME_LIMIT = 600  # seconds: the run stops there, whatever is left


class KeepAliveVisitor(threading.Thread):
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
                    set_cookie = response.getheader('Set-Cookie')
                    if self.returning and set_cookie:
                        # (a Redis session sets its cookie once)
                        cookie = set_cookie.split(';')[0]
                except Exception as e:
                    self.errors.append(repr(e))
                    connection.close()
                self.done += 1
        finally:
            connection.close()


def load(port, requests):
    """``requests`` pages shared by CONNECTIONS keep-alive visitors, half
    of them returning, half first-time; the visitors, once all are done
    (or TIME_LIMIT has passed)."""
    deadline = time.monotonic() + TIME_LIMIT
    visitors = [KeepAliveVisitor(port, requests // CONNECTIONS, n % 2 == 0,
                                 deadline)
                for n in range(CONNECTIONS)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    return visitors


def at_once(*calls):
    """Each call on a thread of its own, all let go together; their
    results, in the order they came."""
    results = []
    start = threading.Barrier(len(calls))

    def one(call):
        start.wait()
        results.append(call())
    threads = [threading.Thread(target=one, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def in_parallel(port, cookie, requests=16):
    """``requests`` page views with one cookie at once; their statuses."""
    return at_once(*[lambda: visit(port, '/howdy', cookie)[0]] * requests)


def assert_parallel_requests_all_count(server):
    """Twice: 16 requests of one session at once, then one more. Those
    beyond what may wait for the session's lock get the 429 page at once;
    every page served is counted, none lost."""
    status, count, cookie = visit(server.port)
    for _ in range(2):
        status, before, cookie = visit(server.port, '/', cookie)
        statuses = in_parallel(server.port, cookie)
        assert set(statuses) <= {200, 429} and 200 in statuses, statuses
        status, after, cookie = visit(server.port, '/', cookie)
        assert after == before + 1 + statuses.count(200)


class SlowClients:
    """Clients that cost a server connections and no work: ``lingering``
    ones that send a whole request, wait for the answer's first bytes,
    and then keep their socket; ``trickling`` ones that send a request's
    head a line every ``every`` seconds, never ending it; and ``bodies``
    that send a whole head, then the form's body a byte every ``every``
    seconds, never ending it either. Closed on the way out of their
    ``with`` block, whatever happens; a server that hangs one up is let
    be."""

    def __init__(self, port, lingering=0, trickling=0, every=2.0,
                 bodies=0):
        self.port, self.every = port, every
        self.counts = (lingering, trickling, bodies)
        self.lingering, self.trickling, self.bodies = [], [], []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.trickle)

    def __enter__(self):
        try:
            lingering, trickling, bodies = self.counts
            for _ in range(lingering):
                s = socket.create_connection(('127.0.0.1', self.port), 10)
                self.lingering.append(s)
                s.sendall(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
            for s in self.lingering:
                s.recv(1)  # the answer has come; the rest stays unread
            for _ in range(trickling):
                s = socket.create_connection(('127.0.0.1', self.port), 5)
                self.trickling.append(s)
                s.sendall(b'GET / HTTP/1.1\r\nHost: localhost\r\n')
            for _ in range(bodies):
                s = socket.create_connection(('127.0.0.1', self.port), 5)
                self.bodies.append(s)
                s.sendall(b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
                          b'Content-Type: application/x-www-form-urlencoded'
                          b'\r\nContent-Length: 8000\r\n\r\na')
            self.thread.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def trickle(self):
        line = 0
        while not self.stopping.wait(self.every):
            line += 1
            for sockets, data in ((self.trickling, b'X-Slow-%d: a\r\n' % line),
                                  (self.bodies, b'a')):
                for s in sockets:
                    try:
                        s.sendall(data)
                    except OSError:
                        pass  # hung up by the server

    def __exit__(self, *exc):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        for s in self.lingering + self.trickling + self.bodies:
            s.close()


def page_times(port, pages=10, timeout=10):
    """``pages`` page loads, one after another, each on a connection of
    its own: each one's status and seconds (None: no answer within
    ``timeout`` seconds)."""
    times = []
    for _ in range(pages):
        started = time.monotonic()
        try:
            status = visit(port, timeout=timeout)[0]
        except (OSError, http.client.HTTPException):
            status = None
        times.append((status, time.monotonic() - started))
    return times
