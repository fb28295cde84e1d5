"""nginx with deploy/nginx's block, as a plain process in front of a
real server, and one request through it."""
import http.client
import os
import shutil
import subprocess
import tempfile

from .processes import free_port, stop_process, wait_until_accepting
from .project import PROJECT, require


WRAPPER = '''\
pid {dir}/nginx.pid;
error_log {dir}/error.log;
worker_processes 1;
{user}
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/tutorial.conf;
}}
'''


def render(**names):
    """deploy/nginx/render's output for these values (it runs
    envsubst)."""
    require('envsubst')
    return subprocess.run(
        [os.path.join(PROJECT, 'deploy', 'nginx', 'render')],
        env=dict(os.environ, **names), capture_output=True, text=True,
        check=True).stdout


class Nginx:
    """nginx with the rendered block, on 127.0.0.1 and a free port, in
    front of ``app``; stopped on the way out, whatever happens.
    ``edit``, if given, turns the rendered block into the one run."""

    def __init__(self, app, certificates, server='server', edit=None):
        self.binary = require('nginx')
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='tutorial-nginx-')
        self.site = render(
            TUTORIAL_SERVER_NAME='localhost 127.0.0.1',
            TUTORIAL_TLS_PORT=str(self.port),
            TUTORIAL_TLS_CERT=certificates[server],
            TUTORIAL_TLS_KEY=certificates[server + '_key'],
            TUTORIAL_APP='127.0.0.1:%d' % app.port,
            TUTORIAL_STATIC=os.path.join(PROJECT, 'tutorial', 'pages',
                                         'static'))
        if edit:
            self.site = edit(self.site)
        with open(os.path.join(self.dir, 'tutorial.conf'), 'w') as f:
            f.write(self.site)
        self.config = os.path.join(self.dir, 'nginx.conf')
        with open(self.config, 'w') as f:
            # as root, nginx's workers would be 'nobody', who cannot read
            # the test's folders: they stay the test's own user
            f.write(WRAPPER.format(
                dir=self.dir, user='user root;' if os.geteuid() == 0
                else ''))
        self.command = [self.binary, '-c', self.config,
                        '-e', os.path.join(self.dir, 'error.log')]
        self.process = None

    def test(self):
        """`nginx -t` on the configuration: its exit status and output."""
        done = subprocess.run(self.command + ['-t'], capture_output=True,
                              text=True)
        return done.returncode, done.stderr + done.stdout

    def __enter__(self):
        self.process = subprocess.Popen(
            self.command + ['-g', 'daemon off;'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until_accepting(self.port, self.process, 10):
            self.__exit__()
            with open(os.path.join(self.dir, 'error.log')) as f:
                raise AssertionError('nginx did not start:\n' + f.read())
        return self

    def __exit__(self, *exc):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


def https(proxy, tls, method, path, headers=None, body=None):
    """One request through the proxy: status, headers and body."""
    connection = http.client.HTTPSConnection('localhost', proxy.port,
                                             context=tls, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()
