"""What the metrics cost a request: each observation the app makes, timed
alone, in one process (as under waitress) and in prometheus_client's
multiprocess mode (as under production's uWSGI workers, where each value
is a memory-mapped file's), beside the printed step's whole request.

    .venv/bin/python -m bench.observations [--rounds 15]

Each mode runs in a process of its own, since prometheus_client picks
its mode when it is first imported. Thread time per call, the smallest
of the rounds (what is left when the machine lets the loop be): the
observations are short enough that a round's median says more of the
machine than of them.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from tests.support.project import PROJECT

#: Calls a round, of an observation and of the step's request.
CALLS = 20000
STEP_CALLS = 300


def per_call(function, calls):
    started = time.thread_time()
    for _ in range(calls):
        function()
    return (time.thread_time() - started) / calls * 1e6


def measure(rounds):
    """This process's figures, in microseconds: what a request makes."""
    from bench.apps import step
    from tests.support.wsgi import wsgi_request
    from tutorial.operations.metrics import (
        DURATION,
        LARGEST_COOKIE,
        SESSIONS_STARTED,
        )

    app = step.main()
    cookie = wsgi_request(app, 'GET', '/')[1]
    duration = DURATION.labels('home', '200').observe
    calls = {
        'duration observed': lambda: duration(0.0003),
        # what a page whose cookie is no larger than the largest costs
        'largest cookie looked at': lambda: 213 > LARGEST_COOKIE.value,
        'session begun counted': SESSIONS_STARTED.inc,
        'nothing (the loop)': lambda: None,
    }
    best = {}
    for _ in range(rounds):
        best['step request'] = min(best.get('step request', 1e9), per_call(
            lambda: wsgi_request(app, 'GET', '/', cookie), STEP_CALLS))
        for name, function in calls.items():
            best[name] = min(best.get(name, 1e9), per_call(function, CALLS))
    return best


def run_mode(multiprocess, rounds):
    env = dict(os.environ)
    env.pop('PROMETHEUS_MULTIPROC_DIR', None)
    with tempfile.TemporaryDirectory() as folder:
        if multiprocess:
            env['PROMETHEUS_MULTIPROC_DIR'] = folder
        done = subprocess.run(
            [sys.executable, '-m', 'bench.observations', '--measure',
             '--rounds', str(rounds)], cwd=PROJECT, env=env,
            capture_output=True, text=True, check=True)
        if multiprocess and not any(name.endswith('.db')
                                    for name in os.listdir(folder)):
            sys.exit('bench: prometheus_client wrote no file in '
                     'multiprocess mode: the figures would be one '
                     "process's")
    return json.loads(done.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--measure', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.rounds)))
        return
    modes = {'one process': run_mode(False, args.rounds),
             'multiprocess': run_mode(True, args.rounds)}
    print('%-24s %14s %14s' % ('us a call', *modes))
    names = [name for name in modes['one process'] if name != 'step request']
    for name in ['step request'] + names:
        print('%-24s %14.2f %14.2f' % (name, *(m[name] for m in
                                                modes.values())))
    print()
    for mode, figures in modes.items():
        loop = figures['nothing (the loop)']
        # a counting page: its duration, and its cookie looked at
        page = (figures['duration observed'] - loop
                + figures['largest cookie looked at'] - loop)
        print('%s: a page\'s observation %.2f us, %.1f %% of the '
              'step\'s request' % (mode, page,
                                    page / figures['step request'] * 100))


if __name__ == '__main__':
    main()
