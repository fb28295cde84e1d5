"""A real redis-server of the tests' own."""
import os
import shutil
import subprocess
import tempfile

from .processes import free_port, stop_process, wait_until_accepting
from .project import redis_program


class RedisServer:
    """A real redis-server on 127.0.0.1 and a free port, keeping no files.

    ``tls`` (the paths make_certificates returns) makes it speak TLS only,
    and ``client_certificates`` makes it ask clients for theirs;
    ``unix_socket`` makes it listen on a socket in a folder of its own and
    on no port; ``password`` turns the default user off and lets in only
    the user ``app`` with that password and the rights ``acl`` gives.
    ``url`` is how a client reaches
    it, with no user or password; ``admin_url`` with them.
    """

    def __init__(self, tls=None, client_certificates=False,
                 unix_socket=False, password=None, port=None, config=(),
                 acl='~* &* +@all'):
        self.binary = redis_program('server')
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix='tutorial-redis-')
        self.tls = tls
        self.password = password
        self.socket = os.path.join(self.dir, 'redis.sock') \
            if unix_socket else None
        lines = ['bind 127.0.0.1', 'save ""', 'appendonly no',
                 'dir ' + self.dir, *config]
        if tls:
            lines += [
                'port 0', 'tls-port %d' % self.port,
                'tls-cert-file ' + tls['server'],
                'tls-key-file ' + tls['server_key'],
                'tls-ca-cert-file ' + tls['ca'],
                'tls-auth-clients %s' % ('yes' if client_certificates
                                         else 'no')]
            query = '?ssl_ca_certs=' + tls['ca']
            if client_certificates:
                query += '&ssl_certfile=%s&ssl_keyfile=%s' % (
                    tls['client'], tls['client_key'])
            self.url = 'rediss://127.0.0.1:%d/0%s' % (self.port, query)
        elif unix_socket:
            lines += ['port 0', 'unixsocket ' + self.socket,
                      'unixsocketperm 700']
            self.url = 'unix://%s?db=0' % self.socket
        else:
            lines += ['port %d' % self.port]
            self.url = 'redis://127.0.0.1:%d/0' % self.port
        if password:
            lines += ['user default off',
                      'user app on >%s %s' % (password, acl)]
        self.config = os.path.join(self.dir, 'redis.conf')
        with open(self.config, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.process = None

    def url_as(self, user, password):
        """``url`` with a user and password in it."""
        scheme, rest = self.url.split('://', 1)
        return '%s://%s:%s@%s' % (scheme, user, password, rest)

    @property
    def admin_url(self):
        return self.url_as('app', self.password) if self.password \
            else self.url

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, self.config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.socket:
            started = wait_until_accepting(self.socket, self.process, 10)
        else:
            started = wait_until_accepting(self.port, self.process, 10)
        if started:
            return self
        self.stop()
        raise AssertionError('redis-server did not start')

    def stop(self):
        stop_process(self.process)

    def remove(self):
        """Stop it, and remove its folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()

    def client(self):
        import redis

        return redis.Redis.from_url(self.admin_url)
