"""What the suites in tests/ share: forged cookies and real servers."""
import base64
import http.client
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
import threading
import time
import urllib.error
import urllib.request

from webob.cookies import SignedSerializer

from tutorial.sessions.signing import DEVELOPMENT_SECRET
from tutorial.tests import count_on

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


#: Every environment variable that changes how the app runs starts so: a
#: test names the ones it wants, and none leaks in from the developer's
#: shell.
SETTINGS_PREFIX = 'TUTORIAL_'


def settings_env(environ=os.environ):
    """The app's settings in ``environ``, by name."""
    return [name for name in environ if name.startswith(SETTINGS_PREFIX)]


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


def stop_process(process):
    """Ask ``process`` (if started, and still running) to stop, and kill
    it if it has not within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


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

    def __init__(self, ini='development.ini', env=None, args=(), port=None,
                 server_section=None):
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
        text = re.sub(r'(?m)^listen = .*$',
                      'listen = 127.0.0.1:%d' % self.port, text)
        with open(self.ini, 'w') as f:
            f.write(text)
        # settings in the developer's own environment must not leak in
        self.env = dict(os.environ)
        for name in settings_env(self.env):
            self.env.pop(name, None)
        # each server's workers add up their metrics in a folder of its own
        self.env.pop('PROMETHEUS_MULTIPROC_DIR', None)
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


def page(connection, path='/', cookie=None):
    """One page on ``connection``, which it closes: its status, the count
    shown, and the cookie to keep."""
    try:
        connection.request('GET', path,
                           headers={'Cookie': cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    set_cookie = response.headers.get('Set-Cookie')
    count = count_on(body) if response.status == 200 else None
    return (response.status, count,
            set_cookie.split(';')[0] if set_cookie else cookie)


class Visitor(threading.Thread):
    """A visitor asking for / one page at a time, each on a connection
    ``connect()`` makes (a new one, so that any worker may take it), and
    carrying its session cookie, for as long as its ``with`` block runs.
    It keeps the counts its pages showed, and every status: 'connection
    lost' for a connection closed with no answer."""

    def __init__(self, connect, cookie=None):
        super().__init__()
        self.connect, self.cookie = connect, cookie
        self.counts, self.statuses = [], []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                status, count, cookie = page(self.connect(), '/',
                                             self.cookie)
            except (OSError, http.client.HTTPException):
                self.statuses.append('connection lost')
                continue
            self.statuses.append(status)
            if status == 200:
                self.counts.append(count)
                self.cookie = cookie

    def lost(self):
        return self.statuses.count('connection lost')

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join(15)


def visit_concurrently(server, visitors, seconds):
    """``visitors`` threads each load /howdy for ``seconds``; return the
    statuses seen and the longest answer, in seconds."""
    statuses, longest = [], [0.0]
    stop = time.monotonic() + seconds

    def visit():
        while time.monotonic() < stop:
            started = time.monotonic()
            status, headers, body = server.get('/howdy')
            longest[0] = max(longest[0], time.monotonic() - started)
            statuses.append(status)

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, longest[0]


def make_certificates(folder):
    """A certificate authority, a server certificate it signed for
    127.0.0.1 and localhost, a client certificate it signed, and another
    authority that signed none of them: PEM files in ``folder``, made now
    (no private key is committed). Returns their paths by name."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    paths = {}

    def save(name, key, certificate):
        paths[name + '_key'] = os.path.join(folder, name + '.key')
        paths[name] = os.path.join(folder, name + '.crt')
        with open(paths[name + '_key'], 'wb') as f:
            f.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        with open(paths[name], 'wb') as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))

    def key_usage(**allowed):
        return x509.KeyUsage(**dict(dict.fromkeys(
            ['digital_signature', 'content_commitment', 'key_encipherment',
             'data_encipherment', 'key_agreement', 'key_cert_sign',
             'crl_sign', 'encipher_only', 'decipher_only'], False),
            **allowed))

    def make(name, issuer=None, issuer_key=None, san=None, usage=None,
             rsa_key=False, ocsp=None):
        # as RFC 5280 has them, which Python 3.13 and later check by
        # default (VERIFY_X509_STRICT): key identifiers, and key usages
        key = rsa.generate_private_key(65537, 2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, 'tutorial tests ' + name)])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer or subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectKeyIdentifier
                                  .from_public_key(key.public_key()), False))
        if issuer is None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None), True)
            builder = builder.add_extension(
                key_usage(key_cert_sign=True, crl_sign=True), True)
        else:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=False, path_length=None), True)
            builder = builder.add_extension(
                key_usage(digital_signature=True,
                          key_encipherment=rsa_key), True)
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([usage]), False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()), False)
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(san), False)
        if ocsp:
            builder = builder.add_extension(x509.AuthorityInformationAccess(
                [x509.AccessDescription(
                    x509.oid.AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(ocsp))]), False)
        certificate = builder.sign(issuer_key or key, hashes.SHA256())
        save(name, key, certificate)
        return subject, key

    ca, ca_key = make('ca')
    make('other_ca')
    make('server', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
              x509.DNSName('localhost')])
    make('client', ca, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    # for TLS 1.2's ECDHE-RSA suites, and one naming an OCSP responder
    make('server_rsa', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
              x509.DNSName('localhost')], rsa_key=True)
    make('server_ocsp', ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
         san=[x509.DNSName('localhost')], ocsp='http://ocsp.invalid/')
    return paths


def wait_for_socket(path, process, timeout):
    """Wait until something accepts connections on the unix socket
    ``path``; False when ``process`` ends or time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return True
            except OSError:
                time.sleep(0.05)
    return False


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
        self.binary = require('redis-server', 'redis-server')
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
            started = wait_for_socket(self.socket, self.process, 10)
        else:
            started = wait_for_port(self.port, self.process, 10)
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


def children(pid):
    """The pids of the processes ``pid`` started, and that still run."""
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:
        return []


def workers(pid):
    """The serving processes ``pid`` started: its children, but for the
    helpers multiprocessing starts beside them where workers are spawned
    rather than forked (Python 3.14), such as its resource tracker."""
    found = []
    for child in children(pid):
        try:
            with open('/proc/%d/cmdline' % child, 'rb') as f:
                command = f.read()
        except FileNotFoundError:
            continue
        if b'resource_tracker' not in command \
                and b'forkserver' not in command:
            found.append(child)
    return found


def rss_kb(pid):
    """The memory ``pid`` holds, in kB (0 once it has ended)."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def group_rss_kb(pid):
    """The memory of ``pid`` and every process it started, in kB."""
    return rss_kb(pid) + sum(group_rss_kb(child) for child in children(pid))


def raw_request(port, request, timeout=10):
    """Send ``request`` (bytes) to 127.0.0.1:``port`` as it is, and return
    the answer's status and all of the answer (None and b'' when the
    server hung up without one). The answer ends where the server hangs
    up, or a second after it last sent anything (a connection kept
    alive)."""
    with socket.create_connection(('127.0.0.1', port), timeout) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b''
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
                s.settimeout(1)
        except ConnectionResetError:
            pass
        except socket.timeout:
            if not answer:
                raise
    status = int(answer.split()[1]) if answer.startswith(b'HTTP/') \
        else None
    return status, answer
