"""What the benchmark's commands share: wrk and its figures, servers
started from a command line, returning visitors, nginx in front, and
the targets' verdict."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

from tests.support.nginx import Nginx
from tests.support.processes import wait_until_accepting
from tests.support.project import PROJECT
from tests.support.tls import make_certificates

HERE = os.path.dirname(os.path.abspath(__file__))
#: The apps compared with this project: waitress-serve finds them here.
APPS = os.path.join(HERE, 'apps')

#: Both tables' target for a returning visitor's p99, in ms.
TARGET_P99_MS = 25

#: production.ini's app on one waitress process: the apps of the app
#: table are compared on one server, the same for all, and the production
#: table's first row is the development server's figure.
WAITRESS = '''use = egg:waitress#main
listen = 127.0.0.1:6543
trusted_proxy = 127.0.0.1
trusted_proxy_count = 1
trusted_proxy_headers = x-forwarded-proto x-forwarded-host x-forwarded-for
clear_untrusted_proxy_headers = true
max_request_body_size = 16384
ident ='''

#: How many returning visitors wrk plays: enough that two requests of one
#: session seldom meet (a Redis session's requests take turns).
RETURNING_VISITORS = 256

#: wrk's script for returning visitors: each request carries the cookie
#: of the next of them, as many visitors' browsers would. The requests are
#: made once, in init: made per request, wrk itself became the limit.
VISITORS_SCRIPT = """cookies = {%s}
requests = {}
sent = 0
init = function(args)
    for i, cookie in ipairs(cookies) do
        requests[i] = wrk.format(nil, nil, {Cookie = cookie})
    end
end
request = function()
    sent = sent + 1
    return requests[sent %% #requests + 1]
end
"""
#: What wrk prints at the end besides its own figures: the 95th
#: percentile, which --latency leaves out.
P95_SCRIPT = """
done = function(summary, latency, requests)
    io.write(string.format("p95: %d us\\n", latency:percentile(95)))
end
"""


def require_wrk():
    if shutil.which('wrk') is None:
        sys.exit('bench: wrk not found: apt-get install wrk')


def wrk(url, seconds, connections, cookies=None, threads=2):
    """Run wrk (with ``cookies``, as the returning visitors who hold
    them); return requests/s, p50 and p99 in ms, the errors, and p95 in
    ms."""
    command = ['wrk', '--latency', '-t%d' % threads, '-c%d' % connections,
               '-d%ds' % seconds, url]
    with tempfile.NamedTemporaryFile('w', suffix='.lua') as script:
        if cookies:
            script.write(VISITORS_SCRIPT % ', '.join(
                '"%s"' % cookie for cookie in cookies))
        script.write(P95_SCRIPT)
        script.flush()
        command[1:1] = ['-s', script.name]
        out = subprocess.run(command, capture_output=True, text=True,
                             check=True).stdout
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    p50 = milliseconds(re.search(r'^\s+50%\s+(\S+)', out, re.M).group(1))
    p99 = milliseconds(re.search(r'^\s+99%\s+(\S+)', out, re.M).group(1))
    errors = int(re.search(r'Non-2xx or 3xx responses: (\d+)', out).group(1)
                 if 'Non-2xx' in out else 0)
    socket_errors = re.search(r'Socket errors: (.*)', out)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r'\d+',
                                                 socket_errors.group(1)))
    p95 = int(re.search(r'^p95: (\d+) us', out, re.M).group(1)) / 1000
    return rps, p50, p99, errors, p95


def milliseconds(value):
    """wrk's '812.00us', '1.20ms' or '1.01s', in milliseconds."""
    number, unit = re.fullmatch(r'([\d.]+)(us|ms|s)', value).groups()
    return float(number) * {'us': 0.001, 'ms': 1, 's': 1000}[unit]


def median_run(runs):
    """Each figure's median over the rounds; errors add up."""
    return tuple(statistics.median(r[i] for r in runs) for i in range(3)) \
        + (sum(r[3] for r in runs),)


class Command:
    """A server started from a command line, listening on 127.0.0.1 and
    ``port``, with bench/apps/ on its path; stopped on the way out
    whatever happens."""

    def __init__(self, command, port, env=None):
        self.port = port
        self.url = 'http://127.0.0.1:%d' % port
        self.command = command
        self.env = dict(os.environ, PYTHONPATH=APPS)
        self.env.update(env or {})

    def __enter__(self):
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_until_accepting(self.port, self.process, 30):
            self.__exit__()
            sys.exit('bench: %s did not start' % ' '.join(self.command))
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(15)


def returning_visitors(url, count=RETURNING_VISITORS):
    """The session cookies of ``count`` first visits to ``url``."""
    return [first_answer(url)[1] for _ in range(count)]


def first_answer(url):
    """The page and the session cookie a first visit gets."""
    with urllib.request.urlopen(url + '/', timeout=10) as response:
        cookie = response.headers.get('Set-Cookie', '').split(';')[0]
        return response.read(), cookie or None


def nginx_in_front(stack, server):
    """deploy/nginx's block in front of ``server`` (entered on ``stack``),
    or None where nginx is not installed."""
    if not (shutil.which('nginx') and shutil.which('envsubst')):
        print('bench: no nginx (apt-get install nginx-light gettext-base): '
              'the rows through the proxy are left out', file=sys.stderr)
        return None
    folder = stack.enter_context(tempfile.TemporaryDirectory())
    return stack.enter_context(Nginx(server, make_certificates(folder)))


def check_targets(checks, width=28):
    """Print each (name, value, target, sense) and whether it is met;
    exit with the names of those missed."""
    misses = []
    for name, value, target, sense in checks:
        met = {'>=': value >= target, '<': value < target,
               '<=': value <= target, '==': value == target}[sense]
        print('%-*s %8.2f   target %s %s: %s' % (
            width, name, value, sense, target,
            'met' if met else 'BELOW TARGET'))
        if not met:
            misses.append(name)
    if misses:
        sys.exit('bench: below target: %s' % ', '.join(misses))


def project_app(env):
    """This project's app as `pserve production.ini` builds it, with
    ``env`` in the environment while it is built."""
    from pyramid.paster import get_appsettings

    from tutorial import main as tutorial_main

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return tutorial_main({}, **get_appsettings(
            os.path.join(PROJECT, 'production.ini')))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
