"""Benchmark: `pserve production.ini` against the server's own ceiling.

    .venv/bin/python bench/run.py [--seconds 10] [--connections 16]

Serves production.ini (on 127.0.0.1 and a free port) and a bare WSGI
callable on the same waitress that returns a page of the same size, then
drives each with wrk (Debian's `wrk` package) in turn: a first-time visitor
(no cookie: a new session each request), a returning visitor (a session
cookie: the counter read, raised and signed again), and the bare callable.
Prints requests per second and p50/p99 latency side by side.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.support import (  # noqa: E402
    BIN,
    Server,
    free_port,
    wait_for_port,
    )
from tutorial.sessions import SECRET_ENV  # noqa: E402

TARGET_P99_MS = 25


def wrk(url, seconds, connections, cookie=None):
    """Run wrk; return requests/s, p50 and p99 in ms, and the errors."""
    command = ['wrk', '--latency', '-t2', '-c%d' % connections,
               '-d%ds' % seconds, url]
    if cookie:
        command[1:1] = ['-H', 'Cookie: ' + cookie]
    out = subprocess.run(command, capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    p50 = _ms(re.search(r'^\s+50%\s+(\S+)', out, re.M).group(1))
    p99 = _ms(re.search(r'^\s+99%\s+(\S+)', out, re.M).group(1))
    errors = int(re.search(r'Non-2xx or 3xx responses: (\d+)', out).group(1)
                 if 'Non-2xx' in out else 0)
    socket_errors = re.search(r'Socket errors: (.*)', out)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r'\d+',
                                                 socket_errors.group(1)))
    return rps, p50, p99, errors


def _ms(value):
    number, unit = re.fullmatch(r'([\d.]+)(us|ms|s)', value).groups()
    return float(number) * {'us': 0.001, 'ms': 1, 's': 1000}[unit]


def bare_server(page_size):
    port = free_port()
    env = dict(os.environ, BENCH_PAGE_SIZE=str(page_size), PYTHONPATH=HERE)
    process = subprocess.Popen(
        [os.path.join(BIN, 'waitress-serve'), '--listen=127.0.0.1:%d' % port,
         'bare:app'], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    if not wait_for_port(port, process, 30):
        process.kill()
        sys.exit('bench: the bare WSGI server did not start')
    return process, 'http://127.0.0.1:%d/' % port


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=int, default=10)
    parser.add_argument('--connections', type=int, default=16)
    args = parser.parse_args()
    if shutil.which('wrk') is None:
        sys.exit('bench: wrk not found: apt-get install wrk')

    secret = os.environ.get(SECRET_ENV) or os.urandom(32).hex()
    rows = []
    with Server('production.ini',
                env={SECRET_ENV: secret}) as server:
        status, headers, body = server.get('/')
        cookie = headers['Set-Cookie'].split(';')[0]
        rows.append(('tutorial, first-time visitor',)
                    + wrk(server.url + '/', args.seconds, args.connections))
        rows.append(('tutorial, returning visitor',)
                    + wrk(server.url + '/', args.seconds, args.connections,
                          cookie))
    process, url = bare_server(len(body))
    try:
        rows.append(('bare WSGI, same waitress',)
                    + wrk(url, args.seconds, args.connections))
    finally:
        process.terminate()
        process.wait(10)

    print('%d connections, %d s each, page of %d bytes, on %d cores'
          % (args.connections, args.seconds, len(body), os.cpu_count()))
    print('%-30s %10s %9s %9s %7s' % ('', 'req/s', 'p50 ms', 'p99 ms',
                                      'errors'))
    for name, rps, p50, p99, errors in rows:
        print('%-30s %10.0f %9.2f %9.2f %7d' % (name, rps, p50, p99, errors))
    bare = rows[-1][1]
    for name, rps, *_ in rows[:2]:
        print('%s: %.0f%% of the bare ceiling' % (name, 100 * rps / bare))
    p99 = rows[1][3]
    print('returning-visitor p99 %.2f ms: %s the %d ms target.'
          % (p99, 'within' if p99 < TARGET_P99_MS else 'OVER',
             TARGET_P99_MS))
    if any(row[4] for row in rows):
        sys.exit('bench: some requests failed')


if __name__ == '__main__':
    main()
