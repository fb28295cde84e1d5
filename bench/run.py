"""Benchmark: this project beside the printed step, Flask and bare WSGI.

    .venv/bin/pip install -e ".[bench]"      # Flask, for the comparison
    .venv/bin/python bench/run.py [--seconds 3] [--rounds 15]

Four servers on 127.0.0.1, each on its own waitress with its defaults:

- the printed step (bench/step.py): SignedCookieSessionFactory, the two
  routes, this project's TutorialViews and the step's own template;
- this project, `pserve production.ini` with a strong secret, every
  protection on (request guard, allowed hosts, security headers, the
  rotating signer, the checked session, the form);
- Flask (bench/flask_app.py): the same page and session, its Jinja2
  template compiled once;
- a bare WSGI callable returning a page of the same size: the ceiling.

wrk (Debian's `wrk`) drives each in turn, as a first-time visitor (no
cookie: a new session on every request) and as a returning one (one
session cookie, read, counted and signed again on every request). Rounds
alternate the servers, so that all of them see the same noise; each
figure is the median of the rounds, and each ratio the median of the
rounds' own ratios: two servers measured within seconds of each other
share whatever else the machine is doing, which changes from one second
to the next on a shared machine; many short rounds follow it more closely
than a few long ones. It prints the figures, the ratios, the targets, and
which of them miss.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.support import (  # noqa: E402
    BIN,
    Server,
    free_port,
    wait_for_port,
    )
from tutorial.session_secrets import SECRET_ENV  # noqa: E402

# Targets for the returning visitor, measured in the same run.
TARGET_PROJECT_OVER_STEP = 0.95
TARGET_PROJECT_OVER_FLASK = 1.3
TARGET_P99_MS = 25

SERVERS = ['step', 'project', 'flask', 'bare']
NAMES = {'step': 'printed step', 'project': 'this project',
         'flask': 'Flask 3', 'bare': 'bare WSGI'}


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


class Waitress:
    """waitress-serve of a WSGI app in bench/, on 127.0.0.1, stopped on
    the way out whatever happens."""

    def __init__(self, *args, env=None):
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.command = [os.path.join(BIN, 'waitress-serve'),
                        '--listen=127.0.0.1:%d' % self.port, *args]
        self.env = dict(os.environ, PYTHONPATH=HERE, **(env or {}))

    def __enter__(self):
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        if not wait_for_port(self.port, self.process, 30):
            self.__exit__()
            sys.exit('bench: %s did not start' % ' '.join(self.command))
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


def first_answer(url):
    """The page and the session cookie a first visit gets."""
    with urllib.request.urlopen(url + '/', timeout=10) as response:
        cookie = response.headers.get('Set-Cookie', '').split(';')[0]
        return response.read(), cookie or None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--connections', type=int, default=16)
    args = parser.parse_args()
    if shutil.which('wrk') is None:
        sys.exit('bench: wrk not found: apt-get install wrk')
    try:
        import flask  # noqa: F401
    except ImportError:
        sys.exit('bench: Flask not found: pip install -e ".[bench]"')

    secret = os.environ.get(SECRET_ENV) or os.urandom(32).hex()
    with Server('production.ini', env={SECRET_ENV: secret}) as project, \
            Waitress('--call', 'step:main') as step, \
            Waitress('flask_app:app',
                     env={'BENCH_SECRET': secret}) as flask_server:
        page, _ = first_answer(project.url)
        with Waitress('bare:app',
                      env={'BENCH_PAGE_SIZE': str(len(page))}) as bare:
            servers = {'step': step, 'project': project, 'flask': flask_server,
                       'bare': bare}
            cookies = {name: first_answer(server.url)[1]
                       for name, server in servers.items()}
            runs = {}
            for n in range(args.rounds):
                # each round starts with another server; the servers that
                # are compared run one after another, a few seconds apart
                order = SERVERS[n % 4:] + SERVERS[:n % 4]
                for visitor in ('first', 'returning'):
                    for name in order:
                        cookie = cookies[name] if visitor == 'returning' \
                            else None
                        if visitor == 'returning' and not cookie:
                            continue  # the bare callable has no session
                        runs.setdefault((name, visitor), []).append(
                            wrk(servers[name].url + '/', args.seconds,
                                args.connections, cookie))
                print('round %d of %d done' % (n + 1, args.rounds),
                      file=sys.stderr)
    report(runs, args, len(page))


def median_run(runs):
    """Each figure's median over the rounds; errors add up."""
    return tuple(statistics.median(r[i] for r in runs) for i in range(3)) \
        + (sum(r[3] for r in runs),)


def report(runs, args, page_size):
    figures = {key: median_run(value) for key, value in runs.items()}
    print('%d connections, %d rounds of %d s, page of %d bytes, on %d cores'
          % (args.connections, args.rounds, args.seconds, page_size,
             os.cpu_count()))
    print('%-14s %-10s %9s %8s %8s %7s' % (
        'server', 'visitor', 'req/s', 'p50 ms', 'p99 ms', 'errors'))
    for (name, visitor), (rps, p50, p99, errors) in sorted(
            figures.items(), key=lambda item: (SERVERS.index(item[0][0]),
                                               item[0][1])):
        print('%-14s %-10s %9.0f %8.2f %8.2f %7d' % (
            NAMES[name], visitor, rps, p50, p99, errors))

    def ratio(visitor, other):
        # the bare callable has no session: one figure for both visitors
        project = runs[('project', visitor)]
        others = runs[(other, 'first' if other == 'bare' else visitor)]
        return statistics.median(
            mine[0] / theirs[0] for mine, theirs in zip(project, others))

    misses = []
    print()
    for visitor in ('first', 'returning'):
        print('%s visitor: project/step %.2f, project/Flask %.2f, '
              'project/bare %.2f' % (
                  visitor, ratio(visitor, 'step'), ratio(visitor, 'flask'),
                  ratio(visitor, 'bare')))
    print('project/step, returning, round by round: %s' % ' '.join(
        '%.2f' % (mine[0] / theirs[0]) for mine, theirs in zip(
            runs[('project', 'returning')], runs[('step', 'returning')])))
    checks = [
        ('project/step, returning', ratio('returning', 'step'),
         TARGET_PROJECT_OVER_STEP, '>='),
        ('project/Flask, returning', ratio('returning', 'flask'),
         TARGET_PROJECT_OVER_FLASK, '>='),
        ('project p99 ms, returning', figures[('project', 'returning')][2],
         TARGET_P99_MS, '<'),
        ('errors, all servers', sum(f[3] for f in figures.values()), 0,
         '=='),
    ]
    for name, value, target, sense in checks:
        met = {'>=': value >= target, '<': value < target,
               '==': value == target}[sense]
        print('%-28s %8.2f   target %s %s: %s' % (
            name, value, sense, target, 'met' if met else 'BELOW TARGET'))
        if not met:
            misses.append(name)
    if misses:
        sys.exit('bench: below target: %s' % ', '.join(misses))


if __name__ == '__main__':
    main()
