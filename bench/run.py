"""Benchmark: this project beside the printed step, Flask and bare WSGI.

    .venv/bin/pip install -e ".[bench]"      # Flask, for the comparison
    .venv/bin/python -m bench.run [--seconds 3] [--rounds 15]
        [--stores cookie,encrypted,redis]
    .venv/bin/python -m bench.run --production [--rounds 5] ...

(from the project's folder). The second runs bench/production.py, the
production table: production's server beside the others.

Servers on 127.0.0.1, each on its own waitress with its defaults:

- the printed step (bench/apps/step.py): SignedCookieSessionFactory, the two
  routes, this project's TutorialViews and the step's own template;
- this project, `pserve production.ini` (on waitress, as the others)
  with a strong secret, every
  protection on (request guard, allowed hosts, security headers, the
  checked session, the form), once for each session store named: the
  step's signed cookie, the encrypted cookie, and Redis (a redis-server of
  its own, when Debian's redis-server is installed);
- Flask (bench/apps/flask_app.py): the same page and session, its Jinja2
  template compiled once;
- a bare WSGI callable returning a page of the same size: the ceiling.

wrk (Debian's `wrk`) drives each in turn, as a first-time visitor (no
cookie: a new session on every request) and as a returning one (one
session cookie, read, counted and written again on every request). Rounds
alternate the servers, so that all of them see the same noise; each
figure is the median of the rounds, and each ratio the median of the
rounds' own ratios: two servers measured within seconds of each other
share whatever else the machine is doing, which changes from one second
to the next on a shared machine; many short rounds follow it more closely
than a few long ones.

Before the servers start, each app's own cost per request is measured in
this process: the WSGI app called on one thread, its thread time per call
over rounds of calls, the median round; and the project beside the step
as the median of their rounds' ratios, each round a back-to-back pair.
It leaves out the server and what other processes do to the wall clock,
so the host moves it least.

It prints the figures, the ratios, the targets, and which of them miss.
"""
import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time

from bench.chart import write_chart
from bench.common import (
    TARGET_P99_MS,
    WAITRESS,
    Command,
    check_targets,
    first_answer,
    median_run,
    project_app,
    require_wrk,
    returning_visitors,
    wrk,
    )
from tests.support.processes import free_port
from tests.support.project import BIN
from tests.support.redis_servers import RedisServer
from tests.support.servers import Server
from tests.support.wsgi import wsgi_request
from tutorial.sessions.secrets import SECRET_ENV
from tutorial.sessions.stores import STORE_ENV

# Targets for the returning visitor, measured in the same run.
TARGET_PROJECT_OVER_STEP = 0.95
TARGET_PROJECT_OVER_FLASK = 1.3
# In process, a returning visitor: the encrypted store costs at most 1/0.9
# of what the signed one costs.
TARGET_SIGNED_OVER_ENCRYPTED = 0.9

SERVERS = ['step', 'project', 'encrypted', 'redis', 'unlocked', 'flask',
           'bare']
NAMES = {'step': 'printed step', 'project': 'this project',
         'encrypted': '  encrypted', 'redis': '  Redis',
         'unlocked': '  Redis no lock',
         'flask': 'Flask 3', 'bare': 'bare WSGI'}
#: The project's servers for each store: the signed cookie is 'project'.
STORES = {'cookie': 'project', 'encrypted': 'encrypted', 'redis': 'redis',
          'redis-unlocked': 'unlocked'}
#: In process, a returning visitor: the lock per session costs Redis
#: sessions at most this much more.
TARGET_LOCKED_OVER_UNLOCKED = 1.2

#: In process: rounds of calls, and calls a round. Many short rounds: the
#: two halves of a pair are measured within a fraction of a second of
#: each other, so that what else the machine does weighs on both alike.
IN_PROCESS_ROUNDS = 31
IN_PROCESS_CALLS = 300


def in_process_costs(apps):
    """Each app's thread time per call, in microseconds, for a first and a
    returning visitor: the median of rounds that take turns between the
    apps."""
    return medians(in_process_rounds(apps))


def medians(rounds):
    """Each key's median round."""
    return {key: statistics.median(values) for key, values in rounds.items()}


def in_process_rounds(apps):
    """Each app's thread time per call, in microseconds, round by round.

    In each round, for a first visitor and then for a returning one,
    every app takes its turn; so round n of two apps next to each other
    in ``apps`` is a back-to-back pair. Every other round takes them in
    the opposite order, so that neither always goes first.
    """
    cookies = {name: wsgi_request(app, 'GET', '/')[1]
               for name, app in apps.items()}
    rounds = {}
    for n in range(IN_PROCESS_ROUNDS):
        names = list(apps) if n % 2 == 0 else list(reversed(apps))
        for visitor in ('first', 'returning'):
            for name in names:
                app = apps[name]
                cookie = cookies[name] if visitor == 'returning' else None
                started = time.thread_time()
                for _ in range(IN_PROCESS_CALLS):
                    wsgi_request(app, 'GET', '/', cookie)
                rounds.setdefault((name, visitor), []).append(
                    (time.thread_time() - started) / IN_PROCESS_CALLS * 1e6)
    return rounds


def pair_ratios(rounds, mine, other, visitor='returning'):
    """``other``'s cost over ``mine``'s, pair by pair (more is better for
    ``mine``)."""
    return [theirs / ours for ours, theirs in zip(rounds[(mine, visitor)],
                                                  rounds[(other, visitor)])]


def main():
    if '--production' in sys.argv[1:]:
        # the production table is a command of its own
        arguments = [a for a in sys.argv[1:] if a != '--production']
        sys.exit(subprocess.call(
            [sys.executable, '-m', 'bench.production'] + arguments))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--connections', type=int, default=16)
    parser.add_argument('--stores',
                        default='cookie,encrypted,redis,redis-unlocked',
                        help='the session stores to serve the project with')
    args = parser.parse_args()
    require_wrk()
    try:
        import flask  # noqa: F401
    except ImportError:
        sys.exit('bench: Flask not found: pip install -e ".[bench]"')
    stores = args.stores.split(',')
    if 'cookie' not in stores or not set(stores) <= set(STORES):
        sys.exit('bench: --stores names cookie and any of: encrypted, '
                 'redis, redis-unlocked')
    redis_stores = [s for s in stores if s.startswith('redis')]
    if redis_stores and shutil.which('redis-server') is None:
        print('bench: no redis-server (apt-get install redis-server): '
              'Redis sessions left out', file=sys.stderr)
        stores = [s for s in stores if s not in redis_stores]
        redis_stores = []

    secret = os.environ.get(SECRET_ENV) or os.urandom(32).hex()
    redis = RedisServer().start() if redis_stores else None
    try:
        envs = {STORES[store]: {SECRET_ENV: secret,
                                STORE_ENV: store.split('-')[0]}
                for store in stores}
        for store in redis_stores:
            envs[STORES[store]]['TUTORIAL_REDIS_URL'] = redis.url
        if 'redis-unlocked' in stores:
            envs['unlocked']['TUTORIAL_REDIS_SESSION_LOCK'] = 'false'
        from bench.apps import flask_app, step

        apps = {'step': step.main()}
        apps.update((name, project_app(env)) for name, env in envs.items())
        apps['flask'] = flask_app.app
        print('in process: %d rounds of %d calls' % (
            IN_PROCESS_ROUNDS, IN_PROCESS_CALLS), file=sys.stderr)
        rounds = in_process_rounds(apps)
        runs, page_size = serve_and_measure(args, envs, secret)
    finally:
        if redis:
            redis.remove()
    report(runs, rounds, args, page_size)


def waitress(*args, env=None):
    """waitress-serve of an app in bench/apps/, on a free port."""
    port = free_port()
    return Command([os.path.join(BIN, 'waitress-serve'),
                    '--listen=127.0.0.1:%d' % port, *args], port, env)


def serve_and_measure(args, envs, secret):
    """wrk against each server, round after round; the runs, and the size
    of the project's page."""
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(Server(
            'production.ini', env=env, server_section=WAITRESS))
            for name, env in envs.items()}
        servers['step'] = stack.enter_context(waitress('--call', 'step:main'))
        servers['flask'] = stack.enter_context(
            waitress('flask_app:app', env={'BENCH_SECRET': secret}))
        page, _ = first_answer(servers['project'].url)
        servers['bare'] = stack.enter_context(
            waitress('bare:app', env={'BENCH_PAGE_SIZE': str(len(page))}))
        names = [name for name in SERVERS if name in servers]
        cookies = {name: returning_visitors(server.url)
                   for name, server in servers.items()}
        runs = {}
        for n in range(args.rounds):
            # each round starts with another server; the servers that
            # are compared run one after another, a few seconds apart
            order = names[n % len(names):] + names[:n % len(names)]
            for visitor in ('first', 'returning'):
                for name in order:
                    cookie = cookies[name] if visitor == 'returning' \
                        else None
                    if visitor == 'returning' and not all(cookie):
                        continue  # the bare callable has no session
                    runs.setdefault((name, visitor), []).append(
                        wrk(servers[name].url + '/', args.seconds,
                            args.connections, cookie))
            print('round %d of %d done' % (n + 1, args.rounds),
                  file=sys.stderr)
    return runs, len(page)


def app_charts(costs, figures=None):
    """The app table's figures drawn: each app's cost in process, and
    (from wrk's runs) its requests a second, for a returning visitor;
    the charts' paths."""
    order = [name for name in SERVERS if (name, 'returning') in costs]
    paths = [write_chart(
        'in-process', 'In process, a returning visitor\'s GET /',
        'microseconds a request (less is better)',
        [(NAMES[name].strip(), costs[(name, 'returning')])
         for name in order])]
    if figures:
        paths.append(write_chart(
            'app-servers', 'Each app on one waitress, a returning visitor',
            'requests a second (more is better)',
            [(NAMES[name].strip(), figures[(name, 'returning')][0])
             for name in SERVERS if (name, 'returning') in figures]))
    return paths


def report(runs, rounds, args, page_size):
    costs = medians(rounds)
    figures = {key: median_run(value) for key, value in runs.items()}
    for path in app_charts(costs, figures):
        print('chart: %s' % path)
    print('%d connections, %d rounds of %d s, page of %d bytes, on %d cores'
          % (args.connections, args.rounds, args.seconds, page_size,
             os.cpu_count()))
    print('%-14s %-10s %9s %8s %8s %7s %12s' % (
        'server', 'visitor', 'req/s', 'p50 ms', 'p99 ms', 'errors',
        'in-process'))
    for (name, visitor), (rps, p50, p99, errors) in sorted(
            figures.items(), key=lambda item: (SERVERS.index(item[0][0]),
                                               item[0][1])):
        cost = costs.get((name, visitor))
        print('%-14s %-10s %9.0f %8.2f %8.2f %7d %12s' % (
            NAMES[name], visitor, rps, p50, p99, errors,
            '%.1f us' % cost if cost else ''))

    def ratio(visitor, mine, other):
        # the bare callable has no session: one figure for both visitors
        others = runs[(other, 'first' if other == 'bare' else visitor)]
        return statistics.median(
            a[0] / b[0] for a, b in zip(runs[(mine, visitor)], others))

    print()
    for visitor in ('first', 'returning'):
        print('%s visitor: project/step %.2f, project/Flask %.2f, '
              'project/bare %.2f' % (
                  visitor, ratio(visitor, 'project', 'step'),
                  ratio(visitor, 'project', 'flask'),
                  ratio(visitor, 'project', 'bare')))
    print('project/step, returning, round by round: %s' % ' '.join(
        '%.2f' % (mine[0] / theirs[0]) for mine, theirs in zip(
            runs[('project', 'returning')], runs[('step', 'returning')])))
    pairs = pair_ratios(rounds, 'project', 'step')
    print('in process, returning: step %.1f us, project %.1f us; '
          'step/project, the median of %d back-to-back pairs, %.2f '
          '(%.2f to %.2f)' % (
              costs[('step', 'returning')], costs[('project', 'returning')],
              len(pairs), statistics.median(pairs), min(pairs), max(pairs)))
    if ('unlocked', 'returning') in runs and ('redis', 'returning') in runs:
        print('Redis, the lock per session: req/s unlocked/locked, '
              'returning %.2f; in process, locked/unlocked: first %.2f, '
              'returning %.2f' % (
                  ratio('returning', 'unlocked', 'redis'),
                  costs[('redis', 'first')] / costs[('unlocked', 'first')],
                  costs[('redis', 'returning')]
                  / costs[('unlocked', 'returning')]))
    for store in ('encrypted', 'redis'):
        if (store, 'returning') in runs:
            print('%s store/signed cookie, req/s: first %.2f, returning '
                  '%.2f; in process, signed/%s: first %.2f, returning %.2f'
                  % (store, ratio('first', store, 'project'),
                     ratio('returning', store, 'project'), store,
                     costs[('project', 'first')] / costs[(store, 'first')],
                     costs[('project', 'returning')]
                     / costs[(store, 'returning')]))
    checks = [
        ('project/step, returning', ratio('returning', 'project', 'step'),
         TARGET_PROJECT_OVER_STEP, '>='),
        ('step/project in process, returning', statistics.median(pairs),
         TARGET_PROJECT_OVER_STEP, '>='),
        ('project/Flask, returning', ratio('returning', 'project', 'flask'),
         TARGET_PROJECT_OVER_FLASK, '>='),
        ('project p99 ms, returning', figures[('project', 'returning')][2],
         TARGET_P99_MS, '<'),
        ('errors, all servers', sum(f[3] for f in figures.values()), 0,
         '=='),
    ]
    if ('unlocked', 'returning') in costs and ('redis', 'returning') in costs:
        checks.append((
            'Redis locked/unlocked in process', costs[('redis', 'returning')]
            / costs[('unlocked', 'returning')],
            TARGET_LOCKED_OVER_UNLOCKED, '<='))
    if ('encrypted', 'returning') in costs:
        checks.append((
            'signed/encrypted in process', costs[('project', 'returning')]
            / costs[('encrypted', 'returning')],
            TARGET_SIGNED_OVER_ENCRYPTED, '>='))
    check_targets(checks)


if __name__ == '__main__':
    main()
