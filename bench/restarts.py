"""Benchmark: what a SIGHUP restart of production's workers costs visitors.

    .venv/bin/python -m bench.restarts [--connections 16] [--restarts 4]
        [--workers 2] [--through-nginx]

Starts `pserve production.ini` (tutorial/server/runner.py) on a free
port of 127.0.0.1, with --workers workers, and keeps --connections
visitors browsing /, each on a connection of its own per page (so that
any worker may take it) and each carrying its own session cookie. Then it
sends pserve SIGHUP --restarts times, each once the previous restart has
replaced every worker, and counts, per restart, the pages served and the
connections closed without an answer. It checks that every visitor's
count went on with no step back, and counts any answer but a 200.

With --through-nginx the visitors go through deploy/nginx's block (TLS,
on a port of its own, with its keep-alive connections to the app), as in
production.
"""
import argparse
import contextlib
import functools
import http.client
import os
import secrets
import signal
import ssl
import sys
import time

from bench.common import nginx_in_front
from tests.support.processes import workers
from tests.support.servers import Server
from tests.support.visitors import Visitor
from tutorial.server.runner import WORKERS_ENV
from tutorial.sessions.secrets import SECRET_ENV


def restart(server, limit=60):
    """SIGHUP, then wait until every worker is a new one; the seconds."""
    before = set(workers(server.process.pid))
    started = time.monotonic()
    os.kill(server.process.pid, signal.SIGHUP)
    while True:
        now = workers(server.process.pid)
        if len(now) == len(before) and before.isdisjoint(now):
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            sys.exit('bench: the workers were not replaced in %d s' % limit)
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--connections', type=int, default=16)
    parser.add_argument('--restarts', type=int, default=4)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--through-nginx', action='store_true')
    args = parser.parse_args()

    env = {SECRET_ENV: secrets.token_hex(32), WORKERS_ENV: str(args.workers)}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(Server('production.ini', env=env))
        while len(workers(server.process.pid)) != args.workers:
            time.sleep(0.1)
        connect = functools.partial(http.client.HTTPConnection,
                                    '127.0.0.1', server.port, timeout=10)
        if args.through_nginx:
            nginx = nginx_in_front(stack, server)
            if nginx is None:
                sys.exit('bench: --through-nginx needs nginx')
            # the certificate is the test's own, made just now
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connect = functools.partial(
                http.client.HTTPSConnection, 'localhost', nginx.port,
                timeout=10, context=context)
        print('%d workers, %d visitors%s, SIGHUP %d times'
              % (args.workers, args.connections,
                 ' through nginx' if args.through_nginx else '',
                 args.restarts))
        visitors = [stack.enter_context(Visitor(connect))
                    for _ in range(args.connections)]

        def pages():
            return sum(len(visitor.counts) for visitor in visitors)

        def lost():
            return sum(visitor.lost() for visitor in visitors)

        print('restart   seconds    pages   lost')
        time.sleep(1)
        for number in range(1, args.restarts + 1):
            pages_before, lost_before = pages(), lost()
            took = restart(server)
            time.sleep(1)
            print('%7d %9.1f %8d %6d' % (number, took, pages() - pages_before,
                                         lost() - lost_before))
    # the with block has stopped every visitor
    other = sorted(set(status for visitor in visitors
                       for status in visitor.statuses
                       if status not in (200, 'connection lost')))
    went_on = all(visitor.counts == list(range(1, 1 + len(visitor.counts)))
                  for visitor in visitors)
    print('in all: %d pages, %d connections lost (%.4f %%), other answers:'
          ' %s; every count went on: %s'
          % (pages(), lost(), 100.0 * lost() / max(pages() + lost(), 1),
             ', '.join(map(str, other)) or 'none', went_on))


if __name__ == '__main__':
    main()
