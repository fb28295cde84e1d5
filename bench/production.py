"""Benchmark: production's server beside the others, and one session's
flood.

    .venv/bin/pip install -e ".[bench]"      # Flask, gunicorn, granian
    .venv/bin/python -m bench.run --production [--seconds 3] [--rounds 5]
        [--stores cookie,encrypted,redis] [--soak 60]

Every row serves production.ini's app (or, for Flask, bench/apps/
flask_app.py) on 127.0.0.1, driven by wrk at one thread and 32
connections, as a first and as a returning visitor:

- waitress, one process: the development server (production.ini's app
  and settings, with waitress in [server:main]);
- uWSGI (tutorial/server/runner.py, `pserve production.ini`) with 1
  worker, and with N, one per core, for each session store named;
- for the cookie store, the other servers that hand the app every header
  byte, N workers each: gunicorn's gthread (4 threads) and sync workers;
  and granian's WSGI workers, which drop any header value that is not
  ASCII, as the reference production left;
- Flask 3 on gunicorn's gthread workers, how Flask is usually deployed,
  and on uWSGI as this project runs it (one request a connection);
- uWSGI N with 12 threads a worker, as the Redis store has them, beside
  production's 4 for the cookie store;
- uWSGI N at 32 and 256 connections, by each front (when nginx is
  installed): straight to its HTTP router; through deploy/nginx to the
  router; through nginx over the uwsgi protocol to the same workers'
  socket (uwsgi_pass), the router left to the port; and through nginx to
  a uWSGI with no router, whose workers read HTTP (--http-socket).

Rounds take turns between the servers, so that all see the same noise;
each figure is the median of the rounds, each ratio the median of the
rounds' own ratios.

Then the flood (with redis-server): uWSGI N with the Redis store, the
lock per session on, and off. One session is sent by wrk on 256
connections while 256 other visitors browse on 8; the table gives the
others' p50 and p95, the flood's 429s, and every 5xx. Last, a soak: uWSGI
N for --soak seconds, its processes' memory before and after.

It prints the targets and which are missed.
"""
import argparse
import contextlib
import os
import shutil
import statistics
import sys
import threading
import time

from bench.chart import write_chart
from bench.common import (
    TARGET_P99_MS,
    WAITRESS,
    Command,
    check_targets,
    first_answer,
    nginx_in_front,
    require_wrk,
    returning_visitors,
    wrk,
    )
from tests.support.processes import (
    free_port,
    group_rss_kb,
    uwsgi_option,
    workers,
    )
from tests.support.project import BIN
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server
from tests.support.visitors import SlowClients, page_times
from tutorial.server.runner import APP_THREADS, WORKERS_ENV, cores
from tutorial.sessions.redis.commands import MAX_WAITING
from tutorial.sessions.signing import SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

#: production.ini's [server:main] with the threads the Redis store gets.
TWELVE_THREADS = ('use = egg:tutorial#uwsgi\nlisten = 127.0.0.1:6543\n'
                  'threads = %d' % (APP_THREADS + MAX_WAITING))
TARGET_OVER_WAITRESS = 3.0
TARGET_OVER_FLASK = 1.3
TARGET_256_OVER_32 = 0.8
TARGET_FLOOD_LOCKED_OVER_UNLOCKED = 1.5
TARGET_SOAK_GROWTH_KB = 16 * 1024

#: The other servers, each serving production.ini's app with N workers.
OTHERS = {
    'gunicorn gthread': lambda n, port: [
        os.path.join(BIN, 'gunicorn'), '--worker-class', 'gthread',
        '--threads', '4', '--workers', str(n), '--bind',
        '127.0.0.1:%d' % port, 'production_app:app'],
    'gunicorn sync': lambda n, port: [
        os.path.join(BIN, 'gunicorn'), '--workers', str(n), '--bind',
        '127.0.0.1:%d' % port, 'production_app:app'],
    'granian (drops bytes)': lambda n, port: [
        os.path.join(BIN, 'granian'), '--interface', 'wsgi', '--workers',
        str(n), '--blocking-threads', '4', '--port', str(port), '--no-ws',
        '--log-level', 'warning', 'production_app:app'],
}


def other_servers(stack, env, workers):
    """The other servers this machine has, serving production.ini's app."""
    servers = {}
    for name, command in OTHERS.items():
        if not os.path.exists(command(1, 0)[0]):
            print('bench: %s not installed (pip install -e ".[bench]"): '
                  'its row is left out' % name, file=sys.stderr)
            continue
        port = free_port()
        servers[name] = stack.enter_context(
            Command(command(workers, port), port, env))
    return servers


def flask_servers(stack, secret, workers):
    """Flask on gunicorn gthread, and on uWSGI, each with ``workers``."""
    env = {'BENCH_SECRET': secret}
    servers = {}
    port = free_port()
    servers['flask uwsgi'] = stack.enter_context(Command(
        [sys.executable, '-c', 'import pyuwsgi; pyuwsgi.run()',
         '--http', '127.0.0.1:%d' % port, '--http-keepalive', '--master',
         '--processes', str(workers), '--threads', '16', '--lazy-apps',
         '--wsgi', 'flask_app:app', '--disable-logging'], port, env))
    if os.path.exists(os.path.join(BIN, 'gunicorn')):
        port = free_port()
        servers['flask gunicorn'] = stack.enter_context(Command(
            [os.path.join(BIN, 'gunicorn'), '--worker-class', 'gthread',
             '--threads', '4', '--workers', str(workers), '--bind',
             '127.0.0.1:%d' % port, 'flask_app:app'], port, env))
    return servers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--stores', default='cookie,encrypted,redis')
    parser.add_argument('--soak', type=int, default=60,
                        help='seconds of the memory soak (0: none)')
    # wrk's own threads: one, as the issue measured; on 2 cores that one
    # thread, sharing them with the workers, can itself be the limit
    parser.add_argument('--wrk-threads', type=int, default=1)
    args = parser.parse_args()
    require_wrk()
    stores = args.stores.split(',')
    has_redis = shutil.which('redis-server') is not None
    if 'redis' in stores and not has_redis:
        stores.remove('redis')
    secret = os.environ.get(SECRET_ENV) or os.urandom(32).hex()
    n = cores()
    uwsgi_n = 'uwsgi %d' % n
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer()) if has_redis else None
        servers = {}
        for store in stores:
            env = {SECRET_ENV: secret, STORE_ENV: store}
            if redis:
                env['TUTORIAL_REDIS_URL'] = redis.url
            servers[(store, 'waitress')] = stack.enter_context(Server(
                'production.ini', env=env, server_section=WAITRESS))
            servers[(store, 'uwsgi 1')] = stack.enter_context(Server(
                'production.ini', env=dict(env, **{WORKERS_ENV: '1'})))
            servers[(store, uwsgi_n)] = stack.enter_context(
                Server('production.ini', env=dict(env, **{WORKERS_ENV:
                                                          str(n)})))
        # the cookie store's threads against the Redis store's
        servers[('cookie', uwsgi_n + ', 12 threads')] = stack.enter_context(
            Server('production.ini', env={SECRET_ENV: secret,
                                          WORKERS_ENV: str(n)},
                   server_section=TWELVE_THREADS))
        for name, server in other_servers(
                stack, {SECRET_ENV: secret}, n).items():
            servers[('cookie', name)] = server
        for name, server in flask_servers(stack, secret, n).items():
            servers[('flask', name)] = server
        cookies = {key: returning_visitors(server.url)
                   for key, server in servers.items()}
        main_server = servers[('cookie', uwsgi_n)]
        runs = measure_servers(args, servers, cookies, fronts(
            stack, main_server, secret, n))
        report_servers(runs, args, n)
        checks = targets(runs, n)
        if redis:
            flood = flood_table(args, stack, redis, secret, n)
            checks += flood
        checks += slow_clients_table(main_server)
        if args.soak:
            checks.append(soak(args, main_server, cookies[('cookie',
                                                           uwsgi_n)]))
    check_targets(checks, 46)


def fronts(stack, server, secret, workers):
    """Where uWSGI N's pages are asked for, by the front: its router
    straight, and nginx's three ways to uWSGI (if nginx is installed)."""
    found = {STRAIGHT: server.url}
    nginx = nginx_in_front(stack, server)
    if nginx is None:
        return found
    found[NGINX] = 'https://localhost:%d' % nginx.port
    # the workers' own socket, which the router hands requests to
    socket = uwsgi_option(server.process.pid, '--socket')
    found['nginx, uwsgi_pass'] = 'https://localhost:%d' % nginx_in_front(
        stack, server, uwsgi_socket=socket).port
    port = free_port()
    http_socket = stack.enter_context(Command(
        [sys.executable, '-c', 'import pyuwsgi; pyuwsgi.run()',
         '--http-socket', '127.0.0.1:%d' % port, '--master',
         '--processes', str(workers), '--threads', str(APP_THREADS),
         # production's backlog (runner.py), not uWSGI's 100
         '--listen', '1024',
         '--lazy-apps', '--wsgi', 'production_app:app',
         '--disable-logging'], port, {SECRET_ENV: secret}))
    found['nginx, --http-socket'] = 'https://localhost:%d' % \
        nginx_in_front(stack, http_socket).port
    return found


#: The fronts the targets name.
STRAIGHT, NGINX = 'straight', 'nginx, to the router'


def measure_servers(args, servers, cookies, urls):
    runs = {}
    keys = list(servers)
    cookie = cookies[('cookie', 'uwsgi %d' % cores())]
    for number in range(args.rounds):
        order = keys[number % len(keys):] + keys[:number % len(keys)]
        for visitor in ('first', 'returning'):
            for key in order:
                sent = cookies[key] if visitor == 'returning' else None
                runs.setdefault(key + (visitor, 32), []).append(
                    wrk(servers[key].url + '/', args.seconds, 32, sent,
                        threads=args.wrk_threads))
        for connections in (32, 256):
            for front, url in urls.items():
                runs.setdefault((front, connections), []).append(
                    wrk(url + '/', args.seconds, connections, cookie,
                        threads=args.wrk_threads))
        print('round %d of %d done' % (number + 1, args.rounds),
              file=sys.stderr)
    return runs


def median(runs, key, i):
    return statistics.median(r[i] for r in runs[key])


def ratio(runs, a, b):
    return statistics.median(x[0] / y[0] for x, y in zip(runs[a], runs[b]))


def report_servers(runs, args, workers):
    print('wrk -t%d, %d rounds of %d s, on %d cores (N = %d workers)' % (
        args.wrk_threads, args.rounds, args.seconds, os.cpu_count(),
        workers))
    print('%-10s %-28s %-10s %5s %9s %8s %8s %7s' % (
        'store', 'server', 'visitor', 'conns', 'req/s', 'p50 ms', 'p99 ms',
        'errors'))
    for key in runs:
        if len(key) == 4:
            store, server, visitor, connections = key
        else:
            store, server, visitor, connections = (
                'cookie', 'uwsgi N, ' + key[0], 'returning', key[1])
        print('%-10s %-28s %-10s %5d %9.0f %8.2f %8.2f %7d' % (
            store, server, visitor, connections, median(runs, key, 0),
            median(runs, key, 1), median(runs, key, 2),
            sum(r[3] for r in runs[key])))
    n = 'uwsgi %d' % workers
    print('chart: %s' % write_chart(
        'production', 'production.ini\'s app on each server, a returning '
        'visitor, 32 connections', 'requests a second (more is better)',
        [('%s, %s' % (store, server), median(runs, key, 0))
         for key in runs if len(key) == 4 and key[2] == 'returning'
         for store, server, visitor, connections in [key]]))
    print()
    for (store, server, visitor, connections) in [
            k for k in runs if len(k) == 4 and k[2] == 'returning'
            and k[0] != 'flask' and k[1] != 'waitress']:
        print('%-10s %-28s / waitress, returning: %.2f' % (
            store, server, ratio(runs, (store, server, 'returning', 32),
                                 (store, 'waitress', 'returning', 32))))
    if ('flask', 'flask gunicorn', 'returning', 32) in runs:
        print('project on uWSGI N / Flask on gunicorn N, returning: %.2f'
              % ratio(runs, ('cookie', n, 'returning', 32),
                      ('flask', 'flask gunicorn', 'returning', 32)))


def targets(runs, workers):
    n = 'uwsgi %d' % workers
    checks = [
        ('uWSGI N / waitress, cookie, returning',
         ratio(runs, ('cookie', n, 'returning', 32),
               ('cookie', 'waitress', 'returning', 32)),
         TARGET_OVER_WAITRESS, '>='),
        ('uWSGI N p99 ms, cookie, returning',
         median(runs, ('cookie', n, 'returning', 32), 2), TARGET_P99_MS,
         '<'),
        ('project / Flask, both on uWSGI N',
         ratio(runs, ('cookie', n, 'returning', 32),
               ('flask', 'flask uwsgi', 'returning', 32)),
         TARGET_OVER_FLASK, '>='),
        ('256 / 32 connections, straight',
         ratio(runs, (STRAIGHT, 256), (STRAIGHT, 32)), TARGET_256_OVER_32,
         '>='),
    ]
    if (NGINX, 32) in runs:
        checks.append(('256 / 32 connections, through nginx',
                       ratio(runs, (NGINX, 256), (NGINX, 32)),
                       TARGET_256_OVER_32, '>='))
    # granian drops bytes; its errors are not this project's
    checks.append(('errors, every row of ours', sum(
        r[3] for key, rs in runs.items() for r in rs
        if 'granian' not in str(key[1])), 0, '=='))
    return checks


def flood_table(args, stack, redis, secret, workers):
    """The others' p50 and p95 while one session floods, lock on and off;
    the checks on them."""
    print('\nthe flood: one session on 256 connections, 256 others on 8, '
          'uWSGI N, Redis store, %d s each, %d rounds' % (
              args.seconds * 2, args.rounds))
    print('%-10s %10s %10s %10s %10s %10s' % (
        'lock', 'others p50', 'others p95', 'others 5xx', 'flood req/s',
        'flood 429'))
    results = {}
    env = {SECRET_ENV: secret, STORE_ENV: 'redis', WORKERS_ENV:
           str(workers), 'TUTORIAL_REDIS_URL': redis.url}
    servers = {
        'on': stack.enter_context(Server('production.ini', env=env)),
        'off': stack.enter_context(Server('production.ini', env=dict(
            env, TUTORIAL_REDIS_SESSION_LOCK='false')))}
    for lock, server in servers.items():
        others = returning_visitors(server.url)
        flooder = [first_answer(server.url)[1]]
        for _ in range(args.rounds):
            flood = []
            thread = threading.Thread(target=lambda: flood.append(wrk(
                server.url + '/', args.seconds * 2, 256, flooder,
                threads=1)))
            thread.start()
            time.sleep(0.5)  # the flood under way first
            seen = wrk(server.url + '/', args.seconds, 8, others, threads=1)
            thread.join()
            results.setdefault(lock, []).append((seen, flood[0]))
    for lock, rounds in results.items():
        print('%-10s %10.2f %10.2f %10d %10.0f %10d' % (
            lock, statistics.median(s[1] for s, f in rounds),
            statistics.median(s[4] for s, f in rounds),
            sum(s[3] for s, f in rounds),
            statistics.median(f[0] for s, f in rounds),
            sum(f[3] for s, f in rounds)))
    p95 = {lock: statistics.median(s[4] for s, f in rounds)
           for lock, rounds in results.items()}
    print('chart: %s' % write_chart(
        'flood', 'Other visitors under one session\'s 256-connection flood',
        'p95 in ms (less is better)',
        [('lock per session %s' % lock, p95[lock]) for lock in p95]))
    return [
        ('flood: others p95, lock on / off', p95['on'] / p95['off'],
         TARGET_FLOOD_LOCKED_OVER_UNLOCKED, '<='),
        ('flood: the others\' errors, lock on',
         sum(s[3] for s, f in results['on']), 0, '=='),
    ]


#: Clients that hold connections and give no work, straight to uWSGI N:
#: (lingering after their answer, trickling a header line every 2 s).
SLOW_CLIENTS = [(16, 64), (0, 512)]
TARGET_SLOW_PAGE_S = 0.5


def slow_clients_table(server):
    """A visitor's 10 pages while slow clients hold connections; the
    check on the slowest."""
    print('\nslow clients straight to uWSGI N: a visitor\'s 10 pages, '
          'each on a new connection')
    print('%10s %10s %10s %10s %10s' % (
        'lingering', 'trickling', 'pages', 'median s', 'slowest s'))
    slowest = {}
    for lingering, trickling in SLOW_CLIENTS:
        with SlowClients(server.port, lingering, trickling):
            pages = page_times(server.port)
        times = [seconds for status, seconds in pages]
        served = sum(status == 200 for status, seconds in pages)
        slowest[lingering, trickling] = max(times) if served == len(
            pages) else float('inf')
        print('%10d %10d %7d/%d %10.4f %10.4f' % (
            lingering, trickling, served, len(pages),
            statistics.median(times), max(times)))
    return [('slowest page (s), 16 lingering, 64 trickling',
             slowest[16, 64], TARGET_SLOW_PAGE_S, '<')]


def soak(args, server, cookies):
    """The server's memory before and after ``args.soak`` seconds of
    returning visitors (after a warm-up of the same length's tenth)."""
    wrk(server.url + '/', max(args.soak // 10, 1), 32, cookies, threads=1)
    before = group_rss_kb(server.process.pid)
    pids = sorted(workers(server.process.pid))
    wrk(server.url + '/', args.soak, 32, cookies, threads=1)
    after = group_rss_kb(server.process.pid)
    same = sorted(workers(server.process.pid)) == pids
    print('\nsoak: %d s, uWSGI N, %d kB before, %d kB after (%+d kB); '
          'the same workers throughout: %s' % (
              args.soak, before, after, after - before, same))
    return ('soak: memory growth kB over %d s' % args.soak, after - before,
            TARGET_SOAK_GROWTH_KB, '<')


if __name__ == '__main__':
    main()
