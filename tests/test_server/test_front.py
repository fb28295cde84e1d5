"""Production's front, nginx (tutorial/server/front.py), as clients meet
it straight: the open files it may hold, and one line for each request
that failed on the client's side, never a traceback."""
import logging
import re
import resource
import socket
import time

from tutorial.server.front import FAULT_INTERVAL, NginxLines
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.processes import descendants, workers_of
from tests.support.servers import Server

SECRET = 'front-secret-0123456789-abcdefghijklmnop-' * 2
ENV = {SECRET_ENV: SECRET, 'TUTORIAL_WORKERS': '2'}
#: What nginx writes for a request a client left mid-body.
ABORTED = re.compile(r'\] 400 for "POST /reset HTTP/1\.1" from 127\.0\.0\.1 '
                     r'\(\d+ bytes read, [\d.]+ s\)( \(and (\d+) more such '
                     r'in 10 s\))?$')


def nginx_of(server):
    for pid in descendants(server.process.pid):
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            if f.read().split(b'\0')[0].endswith(b'/nginx'):
                return pid
    raise AssertionError('no nginx below pserve')


def open_files_of(pid):
    """The soft and the hard open-files limit of process ``pid``."""
    with open('/proc/%d/limits' % pid) as f:
        line = next(line for line in f if line.startswith('Max open files'))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


def test_the_open_files_limit_is_raised_to_the_hard_one_and_said():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        hard = None
    with Server('production.ini', env=ENV, open_files=1024) as server:
        soft_now, hard_now = open_files_of(nginx_of(server))
        said = re.search(r'; (\d+) open files\)', server.output())
    assert soft_now == hard_now
    assert hard is None or soft_now == hard > 1024
    assert said and int(said.group(1)) == soft_now


def abort_a_body(port):
    """A form's head and part of its body, then the client goes away."""
    with socket.create_connection(('127.0.0.1', port), 5) as s:
        s.sendall(b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
                  b'Content-Type: application/x-www-form-urlencoded\r\n'
                  b'Content-Length: 100\r\n\r\ncsrf_token=')


def lines_of(server, pattern):
    return [line for line in server.output().splitlines()
            if pattern.search(line)]


def test_aborted_bodies_are_one_line_and_no_traceback():
    with Server('production.ini', env=ENV) as server:
        workers_of(server, 2)
        started = time.monotonic()
        for _ in range(30):
            abort_a_body(server.port)
        deadline = time.monotonic() + 10
        while not lines_of(server, ABORTED):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        # the workers never saw them: pages go on
        assert server.get('/')[0] == 200
    took = time.monotonic() - started
    output = server.output()
    assert 'Traceback' not in output and 'wsgi.input' not in output
    # the first at once; the rest held, to be summed up on a later line,
    # one each FAULT_INTERVAL at the most
    assert 1 <= len(lines_of(server, ABORTED)) \
        <= 1 + took // FAULT_INTERVAL, output


def test_a_fault_is_logged_once_then_summed_up_each_interval():
    now = [100.0]
    said = NginxLines(clock=lambda: now[0])
    line = ('400 for "POST /reset HTTP/1.1" from 127.0.0.1 '
            '(9 bytes read, 0.1 s)')
    assert said(line) == (logging.WARNING, line)
    for _ in range(20):
        assert said(line)[0] is None
    # another kind has its own line at once
    timed_out = '408 for "POST /reset HTTP/1.1" from 127.0.0.1 (9 bytes ' \
        'read, 10.0 s)'
    assert said(timed_out) == (logging.WARNING, timed_out)
    now[0] += FAULT_INTERVAL
    assert said(line) == (
        logging.WARNING, line + ' (and 20 more such in 10 s)')
    # nginx's own lines are warnings, each one
    emerg = 'nginx: [emerg] bind() to 127.0.0.1:6543 failed'
    assert said(emerg) == (logging.WARNING, emerg)


def test_a_request_that_comes_too_slowly_is_one_line():
    # nginx waits 10 s for each part of a body (front.CLIENT_TIMEOUT),
    # then answers 408 and closes
    with Server('production.ini', env=ENV) as server:
        with socket.create_connection(('127.0.0.1', server.port), 5) as s:
            s.sendall(b'POST /reset HTTP/1.1\r\nHost: localhost\r\n'
                      b'Content-Length: 100\r\n\r\na')
            s.settimeout(20)
            started = time.monotonic()
            while s.recv(65536):
                pass
            waited = time.monotonic() - started
    # closed by nginx's timeout, not before it (the socket's own 20 s
    # bounds the wait)
    assert waited > 9
    timed_out = re.compile(r'\] 408 for "POST /reset HTTP/1\.1"')
    assert len(lines_of(server, timed_out)) == 1, server.output()
    assert 'Traceback' not in server.output()


def test_nginx_s_own_pages_are_the_app_s_and_not_served_by_name():
    with Server('production.ini', env=ENV) as server:
        status, headers, body = server.get('/.errors/400.html')
        assert status == 404
        assert b'There is no page at this address' in body
        # with the headers every page of the app carries
        assert headers['X-Frame-Options'] == 'DENY'
