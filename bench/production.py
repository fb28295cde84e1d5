"""Benchmark: production's server beside the designs it was weighed
against, slow clients by the thousand, and one session's flood.

    .venv/bin/pip install -e ".[bench]"      # Flask, gunicorn, hypercorn
    .venv/bin/python -m bench.run --production [--seconds 3] [--rounds 5]
        [--stores cookie,encrypted,redis] [--soak 60]

Every row serves production.ini's app (or, for Flask, bench/apps/
flask_app.py) on 127.0.0.1, driven by wrk at one thread and 32
connections, as a first and as a returning visitor:

- waitress, one process: the development server (production.ini's app
  and settings, with waitress in [server:main]);
- production (`pserve production.ini`: nginx in front of uWSGI) with 1
  worker, and with N, one per core, for each session store named;
- for the cookie store, the other designs, N workers each: waitress in
  each of N processes (bench/apps/waitress_workers.py), gunicorn with
  gevent's event loop, and hypercorn;
- Flask 3 on gunicorn's gthread workers, how Flask is usually deployed,
  and on uWSGI;
- production N with 12 threads a worker, as the Redis store has them,
  beside its 4 for the cookie store;
- production N at 32 and 256 connections, straight and through
  deploy/nginx (when nginx is installed).

Rounds take turns between the servers, so that all see the same noise;
each figure is the median of the rounds, each ratio the median of the
rounds' own ratios.

Then slow clients: a visitor's pages while clients trickle request
bodies a byte every 2 s, on each design; and on production, lingering
clients, trickling heads and trickling bodies together, up to a
thousand of each. Then the flood (with redis-server): production N with
the Redis store, the lock per session on, and off. One session is sent
by wrk on 256 connections while 256 other visitors browse on 8; the
table gives the others' p50 and p95, the flood's 429s, and every 5xx.
Last, a soak: production N for --soak seconds, its processes' memory
before and after.

It prints the targets and which are missed.
"""
import argparse
import contextlib
import os
import resource
import shutil
import statistics
import sys
import threading
import time

from bench.chart import write_chart
from bench.common import (
    APPS,
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
from tests.support.processes import free_port, group_rss_kb, workers
from tests.support.project import BIN
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server
from tests.support.visitors import SlowClients, page_times
from tutorial.server.master import APP_THREADS
from tutorial.server.runner import WORKERS_ENV, cores
from tutorial.sessions.redis.commands import MAX_WAITING
from tutorial.sessions.secrets import SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

#: production.ini's [server:main] with the threads the Redis store gets.
TWELVE_THREADS = ('use = egg:tutorial#uwsgi\nlisten = 127.0.0.1:6543\n'
                  'threads = %d' % (APP_THREADS + MAX_WAITING))
TARGET_OVER_WAITRESS = 3.0
TARGET_OVER_FLASK = 1.3
TARGET_256_OVER_32 = 0.8
TARGET_FLOOD_LOCKED_OVER_UNLOCKED = 1.5
TARGET_SOAK_GROWTH_KB = 16 * 1024

#: The other designs, each serving production.ini's app with N workers.
OTHERS = {
    'waitress, N processes': lambda n, port: [
        sys.executable, os.path.join(APPS, 'waitress_workers.py'),
        str(port), str(n)],
    'gunicorn gevent': lambda n, port: [
        os.path.join(BIN, 'gunicorn'), '--worker-class', 'gevent',
        '--worker-connections', '4000', '--workers', str(n), '--bind',
        '127.0.0.1:%d' % port, 'production_app:app'],
    'hypercorn': lambda n, port: [
        os.path.join(BIN, 'hypercorn'), '--workers', str(n), '--bind',
        '127.0.0.1:%d' % port, 'production_app:app'],
}


def other_servers(stack, env, workers):
    """The other designs this machine has, serving production.ini's app."""
    servers = {}
    for name, command in OTHERS.items():
        program = command(1, 0)[0]
        if program != sys.executable and not os.path.exists(program):
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
    production_n = PRODUCTION % n
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer()) if has_redis else None
        servers = {}
        for store in stores:
            env = {SECRET_ENV: secret, STORE_ENV: store}
            if redis:
                env['TUTORIAL_REDIS_URL'] = redis.url
            servers[(store, 'waitress')] = stack.enter_context(Server(
                'production.ini', env=env, server_section=WAITRESS))
            servers[(store, PRODUCTION % 1)] = stack.enter_context(Server(
                'production.ini', env=dict(env, **{WORKERS_ENV: '1'})))
            servers[(store, production_n)] = stack.enter_context(
                Server('production.ini', env=dict(env, **{WORKERS_ENV:
                                                          str(n)})))
        # the cookie store's threads against the Redis store's
        twelve = Server('production.ini',
                        env={SECRET_ENV: secret, WORKERS_ENV: str(n)},
                        server_section=TWELVE_THREADS)
        servers[('cookie', production_n + ', 12 threads')] = \
            stack.enter_context(twelve)
        for name, server in other_servers(
                stack, {SECRET_ENV: secret}, n).items():
            servers[('cookie', name)] = server
        for name, server in flask_servers(stack, secret, n).items():
            servers[('flask', name)] = server
        cookies = {key: returning_visitors(server.url)
                   for key, server in servers.items()}
        main_server = servers[('cookie', production_n)]
        runs = measure_servers(args, servers, cookies, fronts(
            stack, main_server))
        report_servers(runs, args, n)
        checks = targets(runs, n)
        if redis:
            flood = flood_table(args, stack, redis, secret, n)
            checks += flood
        checks += slow_bodies_table({
            name: server for (store, name), server in servers.items()
            if store == 'cookie' and name in (production_n, 'waitress')
            or name in OTHERS})
        checks += slow_clients_table(main_server)
        if args.soak:
            checks.append(soak(args, main_server, cookies[('cookie',
                                                           production_n)]))
    check_targets(checks, 46)


def fronts(stack, server):
    """Where production N's pages are asked for: straight, and through
    deploy/nginx (if nginx is installed)."""
    found = {STRAIGHT: server.url}
    nginx = nginx_in_front(stack, server)
    if nginx is not None:
        found[NGINX] = 'https://localhost:%d' % nginx.port
    return found


#: How the rows name production, by its worker count; and its fronts.
PRODUCTION = 'production %d'
STRAIGHT, NGINX = 'straight', 'through deploy/nginx'


def measure_servers(args, servers, cookies, urls):
    runs = {}
    keys = list(servers)
    cookie = cookies[('cookie', PRODUCTION % cores())]
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
                'cookie', 'production N, ' + key[0], 'returning', key[1])
        print('%-10s %-28s %-10s %5d %9.0f %8.2f %8.2f %7d' % (
            store, server, visitor, connections, median(runs, key, 0),
            median(runs, key, 1), median(runs, key, 2),
            sum(r[3] for r in runs[key])))
    n = PRODUCTION % workers
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
        print('project on production N / Flask on gunicorn N, returning: %.2f'
              % ratio(runs, ('cookie', n, 'returning', 32),
                      ('flask', 'flask gunicorn', 'returning', 32)))


def targets(runs, workers):
    n = PRODUCTION % workers
    checks = [
        ('production N / waitress, cookie, returning',
         ratio(runs, ('cookie', n, 'returning', 32),
               ('cookie', 'waitress', 'returning', 32)),
         TARGET_OVER_WAITRESS, '>='),
        ('production N p99 ms, cookie, returning',
         median(runs, ('cookie', n, 'returning', 32), 2), TARGET_P99_MS,
         '<'),
        ('project / Flask on uWSGI, N each',
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
    checks.append(('errors, every row of production\'s', sum(
        r[3] for key, rs in runs.items() for r in rs
        if len(key) == 2 or key[1].startswith('production')), 0, '=='))
    return checks


def flood_table(args, stack, redis, secret, workers):
    """The others' p50 and p95 while one session floods, lock on and off;
    the checks on them."""
    print('\nthe flood: one session on 256 connections, 256 others on 8, '
          'production N, Redis store, %d s each, %d rounds' % (
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


#: A visitor's pages among this many clients that trickle a request's
#: body, on each design.
SLOW_BODIES = 64
#: Clients that hold connections and give no work, straight to
#: production N: (lingering after their answer, trickling a header line
#: every 2 s, trickling a body a byte every 2 s).
SLOW_CLIENTS = [(16, 64, 64), (1000, 0, 0), (0, 1000, 0), (0, 0, 1000),
                (1000, 1000, 1000)]
TARGET_SLOW_PAGE_S = 0.5


def page_line(label, pages):
    """Print a visitor's pages; the slowest, or infinity if one failed."""
    times = [seconds for status, seconds in pages]
    served = sum(status == 200 for status, seconds in pages)
    print('%-36s %7d/%d %10.4f %10.4f' % (
        label, served, len(pages), statistics.median(times), max(times)))
    return max(times) if served == len(pages) else float('inf')


def slow_bodies_table(servers):
    """Each design's visitor among SLOW_BODIES trickling bodies."""
    print('\n%d clients trickling a body, a byte every 2 s: a visitor\'s '
          '10 pages, each on a new connection' % SLOW_BODIES)
    print('%-36s %9s %10s %10s' % ('server', 'pages', 'median s',
                                   'slowest s'))
    slowest = {}
    for name, server in servers.items():
        with SlowClients(server.port, bodies=SLOW_BODIES):
            slowest[name] = page_line(name, page_times(
                server.port, timeout=5))
    return [('slowest page (s), %d trickling bodies, production N'
             % SLOW_BODIES, slowest[PRODUCTION % cores()],
             TARGET_SLOW_PAGE_S, '<')]


def slow_clients_table(server):
    """A visitor's 10 pages while slow clients hold connections; the
    checks on the slowest."""
    # a client costs this process a file too
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print('\nslow clients straight to production N: a visitor\'s 10 '
          'pages, each on a new connection')
    print('%-36s %9s %10s %10s' % ('lingering, heads, bodies', 'pages',
                                   'median s', 'slowest s'))
    checks = []
    for counts in SLOW_CLIENTS:
        with SlowClients(server.port, *counts[:2], bodies=counts[2]):
            slowest = page_line('%d, %d, %d' % counts, page_times(
                server.port, timeout=5))
        checks.append(('slowest page (s), %d, %d, %d slow' % counts,
                       slowest, TARGET_SLOW_PAGE_S, '<'))
    return checks


def soak(args, server, cookies):
    """The server's memory before and after ``args.soak`` seconds of
    returning visitors (after a warm-up of the same length's tenth)."""
    wrk(server.url + '/', max(args.soak // 10, 1), 32, cookies, threads=1)
    before = group_rss_kb(server.process.pid)
    pids = sorted(workers(server.process.pid))
    wrk(server.url + '/', args.soak, 32, cookies, threads=1)
    after = group_rss_kb(server.process.pid)
    same = sorted(workers(server.process.pid)) == pids
    print('\nsoak: %d s, production N, %d kB before, %d kB after (%+d kB); '
          'the same workers throughout: %s' % (
              args.soak, before, after, after - before, same))
    return ('soak: memory growth kB over %d s' % args.soak, after - before,
            TARGET_SOAK_GROWTH_KB, '<')


if __name__ == '__main__':
    main()
