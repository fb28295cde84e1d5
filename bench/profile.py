"""Where one request's time goes, for this project and for the printed
step: pyinstrument (the ``bench`` extra) over many calls of each app, a
returning visitor's GET /, in this process.

    .venv/bin/python -m bench.profile [--calls 20000]

It writes bench/profiles/project.html and step.html, pages to open in a
browser (the call tree, with the time of each part), and the same trees
as text beside them (project.txt, step.txt), and prints the top of each.
"""
import argparse
import importlib.util
import os
import sys

from bench.common import HERE, project_app
from tests.support.wsgi import wsgi_request
from tutorial.sessions.secrets import SECRET_ENV

PROFILES = os.path.join(HERE, 'profiles')
#: How much of each tree it prints.
TOP_LINES = 40


def profile(app, calls):
    """pyinstrument's session over ``calls`` returning visits to ``app``."""
    from pyinstrument import Profiler

    cookie = wsgi_request(app, 'GET', '/')[1]
    for _ in range(200):  # templates compiled, caches warm
        wsgi_request(app, 'GET', '/', cookie)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(calls):
        wsgi_request(app, 'GET', '/', cookie)
    profiler.stop()
    return profiler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--calls', type=int, default=20000)
    parser.add_argument('--folder', default=PROFILES)
    args = parser.parse_args(argv)
    if importlib.util.find_spec('pyinstrument') is None:
        sys.exit('bench: pyinstrument not found: pip install -e ".[bench]"')
    from bench.apps import step

    apps = {'step': step.main(),
            'project': project_app({SECRET_ENV: os.urandom(32).hex()})}
    os.makedirs(args.folder, exist_ok=True)
    for name, app in apps.items():
        profiler = profile(app, args.calls)
        path = os.path.join(args.folder, name)
        with open(path + '.html', 'w') as f:
            f.write(profiler.output_html())
        text = profiler.output_text(unicode=False, color=False)
        with open(path + '.txt', 'w') as f:
            f.write(text)
        print('%s: %d calls, %s.html and .txt' % (name, args.calls, path))
        print('\n'.join(text.splitlines()[:TOP_LINES]))


if __name__ == '__main__':
    main()
