"""The Dockerfile, compose.yaml and deploy/kubernetes, run for real:
rootful podman with runc, on base images the tests make
(tests/support/containers.py), since no image registry is reachable
here.

The images are built once for the module, and every container, network,
volume and image made here is removed at its end, whatever happened.
Everything listens on 127.0.0.1 alone.
"""
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time

import pytest

from tests.support.containers import Podman, compose_env, ready
from tests.support.cookies import PRODUCTION_SECRET
from tests.support.kubernetes import IMAGE_CHECK, played
from tests.support.processes import free_port
from tests.support.project import BIN, PROJECT
from tests.support.tls import make_certificates
from tests.support.visitors import one_page, status_on, visit

SECRET_IN_CONTAINER = '/run/secrets/session_secret'
#: The most the app may add to its base image, in bytes: its virtual
#: environment, and nginx with what it needs from Debian (152 MB in all
#: when nginx came in).
MAX_ADDED = 165 * 1000 * 1000
with open(os.path.join(PROJECT, 'deploy', 'nginx', 'tutorial.template')) as f:
    #: How long nginx keeps the app's address (s), by the template.
    NGINX_VALID = int(re.search(r'(?m)^ *resolver .* valid=(\d+)s;$',
                                f.read()).group(1))


def test_the_dockerfile_passes_hadolint():
    hadolint = os.path.join(BIN, 'hadolint')
    if not os.path.exists(hadolint):
        pytest.fail('hadolint not found: pip install -e ".[dev]"')
    done = subprocess.run([hadolint, os.path.join(PROJECT, 'Dockerfile')],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, '', '')


@pytest.fixture(scope='module')
def podman(tmp_path_factory):
    """podman, with the base images and the app's image built from the
    Dockerfile on them; all of it removed at the end."""
    compose = ready()
    podman = Podman(str(tmp_path_factory.mktemp('podman')))
    podman.compose = compose
    try:
        started = time.monotonic()
        images = podman.base_images()
        bases = time.monotonic() - started
        images['tutorial'] = 'localhost/%stutorial:latest' % podman.prefix
        build = podman.build(images['tutorial'], PROJECT,
                             args=[('PYTHON_IMAGE', images['python'])])
        podman.images = images
        print('\n  podman: base images in %.0f s, the app\'s image built in '
              '%.0f s' % (bases, build))
        yield podman
    finally:
        podman.remove_all()


@pytest.fixture(scope='module')
def secret_file(tmp_path_factory):
    """The session secret in a file, readable by the image's user."""
    path = tmp_path_factory.mktemp('secret') / 'session_secret'
    path.write_text(PRODUCTION_SECRET + '\n')
    path.chmod(0o444)
    return str(path)


def inspect(podman, image):
    return json.loads(podman('image', 'inspect', image).stdout)[0]


def test_the_image_runs_as_a_user_with_a_healthcheck_and_a_port(podman):
    image = podman.images['tutorial']
    inspected = inspect(podman, image)
    config = inspected['Config']
    assert config['User'] == '10001:10001'
    assert '6543/tcp' in config['ExposedPorts']
    assert config['StopSignal'] == 'SIGTERM'
    assert inspected['Healthcheck']['Test'] == [
        'CMD', 'python3', '-m', 'tutorial.operations.check']
    done = podman('run', '--rm', image, 'id', '-u')
    assert done.stdout.strip() == '10001'


def test_the_image_adds_at_most_165_mb_to_its_base(podman):
    base = podman.image_size(podman.images['python'])
    image = podman.image_size(podman.images['tutorial'])
    print('\n  the image: %.0f MB, %.0f MB over its base (%.0f MB)'
          % (image / 1e6, (image - base) / 1e6, base / 1e6))
    assert image - base <= MAX_ADDED


def test_without_a_secret_it_stops_with_one_line(podman):
    # (no health check: podman would say it has no systemd to run one)
    done = podman('run', '--rm', '--read-only', '--tmpfs', '/tmp',
                  '--no-healthcheck', podman.images['tutorial'],
                  check=False, timeout=120)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1 and lines[0].startswith(
        'tutorial: TUTORIAL_SESSION_SECRET '), lines


def test_read_only_with_the_secret_from_a_file_it_counts_and_stops_fast(
        podman, secret_file):
    port = free_port()
    name = podman.name('app')
    podman('run', '--detach', '--name', name, '--read-only',
           '--tmpfs', '/tmp',
           '--volume', '%s:%s:ro' % (secret_file, SECRET_IN_CONTAINER),
           '--env', 'TUTORIAL_SESSION_SECRET_FILE=' + SECRET_IN_CONTAINER,
           '--publish', '127.0.0.1:%d:6543' % port,
           podman.images['tutorial'])
    try:
        podman.wait_for_page(port, '/healthz', name, 60)
        cookie, counts = None, []
        for _ in range(3):
            status, count, cookie = visit(port, '/', cookie)
            assert status == 200
            counts.append(count)
        assert counts == [1, 2, 3]
        # the image's own HEALTHCHECK, run now (podman runs it on a timer
        # only where systemd is)
        assert podman('healthcheck', 'run', name, check=False).returncode \
            == 0
        started = time.monotonic()
        podman('stop', name)
        took = time.monotonic() - started
    finally:
        podman('rm', '--force', name, check=False)
    print('\n  podman stop: %.1f s' % took)
    assert took < 10


# compose.yaml, with all three services

@pytest.fixture(scope='module')
def stack(podman, secret_file, tmp_path_factory):
    """compose.yaml brought up, with the tests' images, a certificate of
    theirs and a free port; brought down (and its volume removed) at the
    end."""
    certificates = make_certificates(str(tmp_path_factory.mktemp('certs')))
    tls_dir = str(tmp_path_factory.mktemp('tls'))
    shutil.copy(certificates['server'], os.path.join(tls_dir, 'cert.pem'))
    shutil.copy(certificates['server_key'], os.path.join(tls_dir, 'key.pem'))
    port = free_port()
    env = compose_env(podman, podman.images, tls_dir, secret_file, port)
    project = env['COMPOSE_PROJECT_NAME']

    def compose(*args, check=True, timeout=300):
        done = subprocess.run([podman.compose, '-p', project, *args],
                              cwd=PROJECT, env=env, text=True,
                              capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check and done.returncode:
            raise AssertionError('podman-compose %s failed:\n%s%s' % (
                ' '.join(args), done.stdout[-3000:], done.stderr[-3000:]))
        return done

    stack = Stack(podman, compose, project, port,
                  ssl.create_default_context(cafile=certificates['ca']))
    try:
        compose('up', '--detach')
        stack.wait_for(lambda: stack.status('/healthz') == 200, 90)
        yield stack
    finally:
        compose('down', '--volumes', check=False)


class Stack:
    def __init__(self, podman, compose, project, port, context):
        self.podman, self.compose, self.project = podman, compose, project
        self.port, self.context = port, context

    def connection(self):
        return http.client.HTTPSConnection('localhost', self.port,
                                           context=self.context, timeout=10)

    def page(self, path='/', cookie=None):
        """One page through nginx: status, count, cookie."""
        return one_page(self.connection(), path, cookie)

    def status(self, path):
        """A probe's status through nginx (None while nothing answers)."""
        return status_on(self.connection(), path)

    def wait_for(self, condition, limit):
        deadline = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < deadline, self.logs()
            time.sleep(0.2)
        return limit - (deadline - time.monotonic())

    def container(self, service):
        return '%s_%s_1' % (self.project, service)

    def address(self, service):
        """The service's container's address on the compose network."""
        return self.podman('inspect', '--format',
                           '{{range .NetworkSettings.Networks}}'
                           '{{.IPAddress}}{{end}}',
                           self.container(service)).stdout.strip()

    def logs(self):
        return '\n'.join(
            '%s: %s' % (service, self.podman(
                'logs', self.container(service), check=False).stderr[-1500:])
            for service in ('app', 'redis', 'nginx'))


def test_through_nginx_over_https_the_count_goes_on(stack):
    cookie, counts = None, []
    for path in ('/', '/howdy', '/'):
        status, count, cookie = stack.page(path, cookie)
        assert status == 200
        counts.append(count)
    assert counts == [1, 2, 3]


def test_the_count_goes_on_after_the_app_is_restarted(stack):
    status, before, cookie = stack.page()
    assert status == 200
    app = stack.container('app')
    address = stack.address('app')
    restarted = time.monotonic()
    stack.podman('restart', app)
    took = stack.wait_for(lambda: stack.status('/healthz') == 200, 60)
    # each nginx worker looks the name up again once its answer is older
    # than the template's valid=; until then a worker may still try the
    # old address. What that gets depends on the kernel's neighbour entry
    # for it, not on the app: none, and ARP finds no host within about
    # 3 s (502); one still cached from before the restart, and the SYN
    # goes to a MAC that is gone, unanswered until proxy_connect_timeout
    # (5 s: 504)
    while time.monotonic() < restarted + NGINX_VALID:
        assert stack.status('/healthz') in (200, 502, 504)
        time.sleep(0.2)
    pages = [stack.page('/', cookie) for _ in range(10)]
    status, after, cookie = pages[0]
    moved = stack.address('app')
    print('\n  the app restarted (%s, then %s): served through nginx again '
          'in %.1f s' % (address, moved, took))
    assert [page[:2] for page in pages] == [
        (200, before + n) for n in range(1, 11)]


def test_redis_stopped_gives_503s_then_it_recovers(stack):
    status, before, cookie = stack.page()
    assert status == 200
    stack.compose('stop', 'redis')
    try:
        stack.wait_for(lambda: stack.status('/readyz') == 503, 30)
        assert stack.page('/', cookie)[0] == 503
        assert stack.status('/healthz') == 200
    finally:
        stack.compose('start', 'redis')
    took = stack.wait_for(lambda: stack.status('/readyz') == 200, 30)
    # /readyz came from one worker; the page may go to another, whose
    # breaker rests REDIS_PAUSE after its last failure: a 503 (which
    # leaves the session as it was) until then
    pages = []
    stack.wait_for(lambda: pages.append(stack.page('/', cookie))
                   or pages[-1][0] == 200, 5)
    print('\n  Redis back: ready again in %.1f s' % took)
    assert [page[0] for page in pages[:-1]] == [503] * (len(pages) - 1)
    # the session was on Redis's volume
    assert pages[-1][1] == before + 1


def test_only_nginx_publishes_a_port_on_the_host(stack):
    published = {}
    for service in ('app', 'redis', 'nginx'):
        ports = json.loads(stack.podman(
            'inspect', '--format', '{{json .NetworkSettings.Ports}}',
            stack.container(service)).stdout) or {}
        published[service] = sorted(
            '%s:%s' % (binding['HostIp'], binding['HostPort'])
            for bindings in ports.values() for binding in bindings or ())
    assert published == {'app': [], 'redis': [],
                         'nginx': ['127.0.0.1:%d' % stack.port]}


def test_down_leaves_nothing_running(stack):
    stack.compose('down', '--volumes')
    left = {kind: stack.podman.names(kind, stack.project)
            for kind in ('container', 'pod', 'volume', 'network')}
    assert left == {'container': [], 'pod': [], 'volume': [], 'network': []}


# deploy/kubernetes, played by podman (what it does with each field:
# docs/kubernetes.rst)

@pytest.fixture(scope='module')
def kube(podman, tmp_path_factory):
    """The manifests played: Redis's pod, then the app's; all of it
    removed at the end (with the module's podman)."""
    with played(podman, tmp_path_factory.mktemp('kube'), free_port(),
                {'session_secret': PRODUCTION_SECRET,
                 'old_session_secrets': ''}) as kube:
        yield kube


def test_kube_play_counts_through_the_apps_port(kube):
    cookie, counts = None, []
    for path in ('/', '/howdy', '/'):
        status, count, cookie = visit(kube.port, path, cookie)
        assert status == 200
        counts.append(count)
    assert counts == [1, 2, 3]
    # what podman played: Redis's pod and one of the app's
    pods = kube.podman.names('pod', kube.podman.name('tutorial'))
    assert sorted(pods) == [kube.podman.name('tutorial-pod-0'),
                            kube.podman.name('tutorial-redis')]


def test_the_count_goes_on_after_the_apps_pod_is_replaced(kube):
    status, before, cookie = visit(kube.port, '/')
    assert status == 200
    old = kube.podman('pod', 'inspect', '--format', '{{.ID}}',
                      kube.podman.name('tutorial-pod-0')).stdout
    kube.play(kube.app, '--replace')
    kube.wait_until_ready()
    new = kube.podman('pod', 'inspect', '--format', '{{.ID}}',
                      kube.podman.name('tutorial-pod-0')).stdout
    assert new != old
    pages = [visit(kube.port, '/', cookie) for _ in range(3)]
    assert [page[:2] for page in pages] == [
        (200, before + n) for n in range(1, 4)]


def test_the_liveness_check_fails_while_the_app_hangs(kube):
    inspected = json.loads(kube.podman('inspect', kube.container).stdout)[0]
    # the liveness probe became the container's health check, a shell
    # command (startup and readiness probes became nothing)
    test = inspected['Config']['Healthcheck']['Test']
    assert test[0] == 'CMD-SHELL'
    assert test[1:1 + len(IMAGE_CHECK)] == IMAGE_CHECK
    assert kube.health() == 0
    frozen = kube.processes()
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        # the check waits its 3 s for /healthz, then fails
        assert kube.health() == 1
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert kube.health() == 0
    assert visit(kube.port, '/')[0] == 200
