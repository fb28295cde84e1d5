"""A real `pserve` process on a copy of one of the project's ini files."""
import http.client
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from tutorial.operations import MULTIPROC_ENV

from .processes import free_port, wait_until_accepting
from .project import PROJECT, PSERVE, settings_env


class Server:
    """A real `pserve` process on a copy of one of the project's ini files.

    The copy listens on 127.0.0.1 and a free port. Use it as a context
    manager: whatever happens, the process is stopped on the way out.
    """

    def __init__(self, ini='development.ini', env=None, args=(), port=None,
                 server_section=None, app_section=None, open_files=None):
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.dir = tempfile.mkdtemp(prefix='tutorial-server-')
        self.ini = os.path.join(self.dir, ini)
        self.log = os.path.join(self.dir, 'pserve.log')
        with open(os.path.join(PROJECT, ini)) as f:
            text = f.read()
        if server_section is not None:
            # another server for the same app (the benchmark's waitress)
            text = re.sub(r'(?ms)^\[server:main\]\n.*?(?=^###|^\[)',
                          '[server:main]\n%s\n' % server_section, text)
        if app_section is not None:
            # another app on the same server (the header tests' echo)
            text = re.sub(r'(?ms)^\[app:main\]\n.*?(?=^###|^\[)',
                          '[app:main]\n%s\n\n' % app_section, text)
        text = re.sub(r'(?m)^listen = .*$',
                      'listen = 127.0.0.1:%d' % self.port, text)
        with open(self.ini, 'w') as f:
            f.write(text)
        # settings in the developer's own environment must not leak in
        self.env = dict(os.environ)
        for name in settings_env(self.env):
            self.env.pop(name, None)
        # each server's workers add up their metrics in a folder of its own
        self.env.pop(MULTIPROC_ENV, None)
        self.env['PYTHONUNBUFFERED'] = '1'  # the log in the order it happens
        self.env.update(env or {})
        self.args = list(args)
        #: the soft open-files limit pserve starts with, if not this one's
        self.open_files = open_files
        self.process = None
        self._final_output = None

    def start(self, wait=True):
        self._out = open(self.log, 'ab')
        self.process = subprocess.Popen(
            [PSERVE, self.ini] + self.args, cwd=self.dir, env=self.env,
            stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=self._limit_files)
        if wait:
            self.wait_until_serving()
        return self

    def _limit_files(self):
        if self.open_files is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (self.open_files, hard))

    def wait_until_serving(self, timeout=30):
        """Until the app answers: production's nginx listens before its
        workers have loaded the app, so an open port is not enough. The
        answer is a probe's, which counts as no request."""
        deadline = time.monotonic() + timeout
        while True:
            if wait_until_accepting(self.port, self.process,
                                    deadline - time.monotonic()):
                try:
                    self.get('/healthz')
                    return
                except (OSError, http.client.HTTPException):  # not yet
                    pass
            if self.process.poll() is not None \
                    or time.monotonic() >= deadline:
                raise AssertionError(
                    'pserve did not serve in %ss (exit status %s):\n%s'
                    % (timeout, self.process.poll(), self.output()))
            time.sleep(0.05)

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


def served_again(app, cookie, limit=10):
    """Load / until it is served again (the app asks Redis again a moment
    after it failed); return the page."""
    deadline = time.monotonic() + limit
    while True:
        status, headers, body = app.get('/', cookie=cookie)
        if status == 200:
            return body
        assert status == 503 and time.monotonic() < deadline, status
        time.sleep(0.02)
