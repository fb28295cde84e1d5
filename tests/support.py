"""What the suites in tests/ share: forged cookies and real servers."""
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from webob.cookies import SignedSerializer

from tutorial.request_guard import ALLOWED_HOSTS_ENV
from tutorial.session_stores import STORE_ENV
from tutorial.session_secrets import (
    DEVELOPMENT_SECRET,
    OLD_SECRETS_ENV,
    SECRET_ENV,
    )

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)
PSERVE = os.path.join(BIN, 'pserve')
SCREENSHOTS = os.path.join(PROJECT, 'screenshots')

CHROMIUM_ARGS = [
    # look up no name but the local ones: this browser talks to no one else
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , '
    'EXCLUDE localhost',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
]


#: The environment variables that change how the app runs: a test names
#: the ones it wants, and none leaks in from the developer's shell.
SETTINGS_ENV = (SECRET_ENV, OLD_SECRETS_ENV, ALLOWED_HOSTS_ENV, STORE_ENV,
                'TUTORIAL_REDIS_URL')


class Raw:
    """Passes bytes through, so a test can sign any payload at all."""

    def dumps(self, value):
        return value

    def loads(self, value):
        return value


def https_client(app):
    """A WebTest client that reaches ``app`` at https://localhost/, as a
    browser behind production's TLS proxy does: it sends the Secure
    cookie, and its forms pass Pyramid's check of their origin."""
    import webtest

    return webtest.TestApp(app, extra_environ={
        'wsgi.url_scheme': 'https', 'HTTP_HOST': 'localhost',
        'SERVER_PORT': '443'})


def forge_cookie(payload, secret=DEVELOPMENT_SECRET):
    """Sign ``payload`` as Pyramid's SignedCookieSessionFactory would.

    ``payload`` is a session's data (wrapped in the factory's envelope of
    times) or, as bytes, exactly what goes inside the signature.
    """
    if not isinstance(payload, bytes):
        now = time.time()
        payload = json.dumps([now, now, payload]).encode('utf-8')
    signer = SignedSerializer(
        secret, 'pyramid.session.', 'sha512', serializer=Raw())
    return signer.dumps(payload).decode('ascii')


def session_in(cookie):
    """The data a signed session cookie carries (read, not verified)."""
    raw = base64.urlsafe_b64decode(cookie + '=' * (-len(cookie) % 4))
    return json.loads(raw[64:])[2]  # past the sha512 signature


def wsgi_request(app, method, path, cookie=None, body=b''):
    """One request straight to the WSGI app: its status, the session
    cookie it leaves the visitor with, and its body."""
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'HTTP_HOST': 'localhost',
        'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body),
    }
    if method == 'POST':
        # a form, as a browser posts it; its GETs carry no body
        environ['CONTENT_LENGTH'] = str(len(body))
        environ['CONTENT_TYPE'] = 'application/x-www-form-urlencoded'
    if cookie:
        environ['HTTP_COOKIE'] = cookie
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer['status'] = status
        answer['cookie'] = dict(headers).get('Set-Cookie', '').split(';')[0]
    chunks = app(environ, start_response)
    try:
        body = b''.join(chunks)
    finally:
        getattr(chunks, 'close', lambda: None)()
    return answer['status'], answer['cookie'] or cookie, body


def wait_for_port(port, process, timeout):
    """Wait until something accepts connections on 127.0.0.1:``port``.

    True when it does; False when ``process`` ends or time runs out first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(('127.0.0.1', port), 0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    """A port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """A real `pserve` process on a copy of one of the project's ini files.

    The copy listens on 127.0.0.1 and a free port. Use it as a context
    manager: whatever happens, the process is stopped on the way out.
    """

    def __init__(self, ini='development.ini', env=None, args=(), port=None):
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.dir = tempfile.mkdtemp(prefix='tutorial-server-')
        self.ini = os.path.join(self.dir, ini)
        self.log = os.path.join(self.dir, 'pserve.log')
        with open(os.path.join(PROJECT, ini)) as f:
            text = f.read()
        text = re.sub(r'(?m)^listen = .*$',
                      'listen = 127.0.0.1:%d' % self.port, text)
        with open(self.ini, 'w') as f:
            f.write(text)
        # settings in the developer's own environment must not leak in
        self.env = dict(os.environ)
        for name in SETTINGS_ENV:
            self.env.pop(name, None)
        self.env['PYTHONUNBUFFERED'] = '1'  # the log in the order it happens
        self.env.update(env or {})
        self.args = list(args)
        self.process = None
        self._final_output = None

    def start(self, wait=True):
        self._out = open(self.log, 'ab')
        self.process = subprocess.Popen(
            [PSERVE, self.ini] + self.args, cwd=self.dir, env=self.env,
            stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True)
        if wait:
            self.wait_until_serving()
        return self

    def wait_until_serving(self, timeout=30):
        if not wait_for_port(self.port, self.process, timeout):
            raise AssertionError(
                'pserve did not listen in %ss (exit status %s):\n%s'
                % (timeout, self.process.poll(), self.output()))

    def get(self, path, cookie=None, headers=None):
        """GET ``path``; return its status, headers and body, whatever
        the status (an error answer is read and closed like any other)."""
        request = urllib.request.Request(self.url + path,
                                         headers=headers or {})
        if cookie:
            request.add_header('Cookie', cookie)
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return response.status, response.headers, response.read()

    def output(self):
        """What pserve printed, so far or (once stopped) in all."""
        if self._final_output is not None:
            return self._final_output
        with open(self.log, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def kill(self):
        """Stop the server at once, as a crash would (SIGKILL)."""
        self._signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(10)

    def _signal(self, sig):
        # pserve --reload runs the app in a child: signal the whole group
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.__exit__(None, None, None)  # no server left behind
            raise

    def __exit__(self, *exc):
        self.stop()
        if self.process is not None:
            self._out.close()
            self._final_output = self.output()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_pserve(ini, env, timeout=30):
    """Run `pserve ini` to its end; return (exit code, output)."""
    server = Server(ini, env=env)
    try:
        server.start(wait=False)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, server.output()
        return server.process.returncode, server.output()
    finally:
        server.__exit__(None, None, None)


def shot(page, name):
    """Save what ``page`` shows as screenshots/NAME.png, for a person."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, name + '.png'))


def require(program, package):
    """The path of a program the suite needs, or skip (under CI, fail)."""
    path = shutil.which(program)
    if path is None:
        import pytest

        message = ('%s not found: install Debian\'s %s package '
                   '(apt-get install %s) to run these tests'
                   % (program, package, package))
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(message)
        pytest.skip(message)
    return path


class RedisServer:
    """A real redis-server on 127.0.0.1 and a free port, keeping no files."""

    def __init__(self):
        self.binary = require('redis-server', 'redis-server')
        self.port = free_port()
        self.url = 'redis://127.0.0.1:%d/0' % self.port
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, '--bind', '127.0.0.1', '--port', str(self.port),
             '--save', '', '--appendonly', 'no'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_port(self.port, self.process, 10):
            return self
        self.stop()
        raise AssertionError('redis-server did not start')

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)
