"""Containers the tests make with podman, as root, with runc.

No image registry is reachable from here, so the base images are the
tests' own: a Debian base with Python made with debootstrap (from the
Debian archive this machine's apt reads) and imported, and Redis and nginx
images built on it from Debian's packages, standing in for the official
ones. Every podman command reads a containers.conf of the tests' own
(CONTAINERS_CONF), so that nothing of this machine goes into the
Dockerfile or the compose file.
"""
import contextlib
import os
import resource
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid

from .project import BIN, missing, require
from .visitors import connection, status_on

#: Where the debootstrapped base is kept between runs (a tar file), made
#: again when its package list changes or once it is a week old.
CACHE = os.environ.get('TUTORIAL_CONTAINER_CACHE',
                       '/var/cache/tutorial-containers')
SUITE = 'trixie'
BASE_PACKAGES = ('python3', 'python3-venv', 'ca-certificates')
IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'images')
#: Every name the tests give a container, image, network or volume starts
#: so, and then the run's own word: what is left of a run is found by it.
PREFIX = 'tutorial-tests-'
WEEK = 7 * 24 * 3600


def ready():
    """The programs the container tests use: skip without them, or fail
    under CI; skip where CONTAINER_TESTS=skip says to (.ci/other-pythons'
    chroots). Returns podman-compose's path."""
    import pytest

    if os.environ.get('CONTAINER_TESTS') == 'skip':
        pytest.skip('CONTAINER_TESTS=skip: the container tests run on the '
                    'host (podman, as root)')
    require('podman')
    require('runc')
    require('iptables')
    require('debootstrap')
    compose = os.path.join(BIN, 'podman-compose')
    if not os.path.exists(compose):
        missing('podman-compose not found: README.txt\'s test command '
                'installs it')
    if os.geteuid() != 0:
        missing('the container tests run podman as root')
    return compose


def host_mirror():
    """The Debian archive this machine's apt reads its own release from."""
    with open('/etc/os-release') as f:
        release = dict(line.rstrip('\n').split('=', 1)
                       for line in f if '=' in line)
    codename = release.get('VERSION_CODENAME', '').strip('"')
    policy = subprocess.run(['apt-cache', 'policy'], capture_output=True,
                            text=True, check=True).stdout
    for line in policy.splitlines():
        words = line.split()
        if len(words) >= 3 and words[2] == codename + '/main' \
                and words[1].startswith(('http://', 'https://')):
            return words[1]
    raise RuntimeError('no Debian archive in this machine\'s apt sources')


def base_tarball():
    """The Debian base's root file system, as a tar file: the cached one,
    or one made now with debootstrap."""
    stamp = 'debootstrap --variant=minbase %s: %s' % (
        SUITE, ' '.join(BASE_PACKAGES))
    tarball = os.path.join(CACHE, '%s-python.tar' % SUITE)
    stamp_file = tarball + '.stamp'
    with contextlib.suppress(OSError):
        with open(stamp_file) as f:
            if f.read() == stamp \
                    and time.time() - os.path.getmtime(tarball) < WEEK:
                return tarball
    os.makedirs(CACHE, exist_ok=True)
    root = tempfile.mkdtemp(prefix='base-', dir=CACHE)
    try:
        subprocess.run(
            ['debootstrap', '--variant=minbase',
             '--include=' + ','.join(BASE_PACKAGES), SUITE, root,
             host_mirror()],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # what an image has no use for: the downloaded packages
        for name in os.listdir(os.path.join(root, 'var/cache/apt/archives')):
            if name.endswith('.deb'):
                os.remove(os.path.join(root, 'var/cache/apt/archives', name))
        with tarfile.open(tarball + '.part', 'w') as tar:
            for name in sorted(os.listdir(root)):
                tar.add(os.path.join(root, name), arcname=name)
        os.replace(tarball + '.part', tarball)
        with open(stamp_file, 'w') as f:
            f.write(stamp)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tarball


def containers_conf(path):
    """A containers.conf for these tests: runc (crun fails on this
    sandbox's cgroups), and this process's own limits on files and
    processes, since the sandbox cannot raise them for a container."""
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    processes = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[0])
    with open(path, 'w') as f:
        f.write('[containers]\n'
                'default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                '[engine]\n'
                'runtime = "runc"\n' % (files, files, processes, processes))
    return path


class Podman:
    """podman, with the tests' containers.conf, and everything made through
    it named with this run's prefix, so that remove_all() finds it."""

    def __init__(self, folder):
        self.folder = folder
        self.prefix = PREFIX + uuid.uuid4().hex[:8] + '-'
        self.env = dict(os.environ, CONTAINERS_CONF=containers_conf(
            os.path.join(folder, 'containers.conf')))
        # the host's CA certificates, which a build's downloads need here
        self.certificates = '/etc/ssl/certs'
        # a build leaves the image of each stage but the last untagged:
        # what is new since now is this run's
        self.images_before = set(self.image_ids())

    def image_ids(self):
        return self('images', '--all', '--quiet', '--no-trunc').stdout.split()

    def name(self, what):
        return self.prefix + what

    def __call__(self, *args, check=True, timeout=600, input=None):
        """podman ``args``: its CompletedProcess (text), raising with what
        it printed if ``check`` and it failed."""
        done = subprocess.run(['podman', *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout,
                              input=input, stdin=None if input is not None
                              else subprocess.DEVNULL)
        if check and done.returncode:
            raise AssertionError('podman %s failed (%d):\n%s%s' % (
                ' '.join(args), done.returncode, done.stdout[-3000:],
                done.stderr[-3000:]))
        return done

    def build(self, tag, context, containerfile=None, args=()):
        """Build ``tag`` (docker format, so that HEALTHCHECK is kept), with
        the host's network and CA certificates for its downloads."""
        command = ['build', '--format', 'docker', '--network', 'host',
                   '--volume', '%s:%s:ro' % (self.certificates,
                                             self.certificates),
                   '--tag', tag]
        if containerfile:
            command += ['--file', containerfile]
        for name, value in args:
            command += ['--build-arg', '%s=%s' % (name, value)]
        started = time.monotonic()
        self(*command, context, timeout=1200)
        return time.monotonic() - started

    def base_images(self):
        """The stand-ins for the official images, by name: Python (the
        debootstrapped base), Redis and nginx (built on it)."""
        images = {'python': 'localhost/%spython:%s' % (self.prefix, SUITE)}
        self('import', '--change', 'CMD ["python3"]', base_tarball(),
             images['python'])
        for service in ('redis', 'nginx'):
            images[service] = 'localhost/%s%s:%s' % (self.prefix, service,
                                                     SUITE)
            self.build(images[service], IMAGES,
                       os.path.join(IMAGES, service + '.Containerfile'),
                       [('BASE', images['python'])])
        return images

    def wait_for_page(self, port, path, container, limit):
        """Until GET ``path`` on 127.0.0.1:``port`` answers 200; failing
        after ``limit`` seconds with the end of ``container``'s log."""
        deadline = time.monotonic() + limit
        while status_on(connection(port), path) != 200:
            assert time.monotonic() < deadline, self(
                'logs', container, check=False).stderr[-2000:]
            time.sleep(0.2)

    def image_size(self, image):
        return int(self('image', 'inspect', '--format', '{{.Size}}',
                        image).stdout)

    def names(self, kind, containing):
        """The names of every ``kind`` (container, pod, network, volume or
        image) that podman has whose name holds ``containing``."""
        listing = LISTINGS[kind]
        return [name for name in self(*listing).stdout.split()
                if containing in name]

    def remove_all(self):
        """Remove every container, pod, network, volume and image this run
        made, whatever state it is in."""
        for kind in LISTINGS:
            names = self.names(kind, self.prefix)
            if names:
                self(kind, 'rm', '--force', *names, check=False)
        made = [image for image in self.image_ids()
                if image not in self.images_before]
        if made:
            self('image', 'rm', '--force', *made, check=False)


#: How podman lists each kind of thing by name, in the order they are
#: removed (a container before its network, volume and image).
LISTINGS = {
    'container': ['ps', '-a', '--format', '{{.Names}}'],
    'pod': ['pod', 'ps', '--format', '{{.Name}}'],
    'network': ['network', 'ls', '--format', '{{.Name}}'],
    'volume': ['volume', 'ls', '--format', '{{.Name}}'],
    'image': ['images', '--format', '{{.Repository}}:{{.Tag}}'],
}


def free_subnet(podman):
    """A /24 of 10.89.0.0/16 that no podman network of this machine has,
    for the compose network (whose proxy's address is fixed)."""
    used = set()
    names = podman('network', 'ls', '--format', '{{.Name}}').stdout.split()
    for name in names:
        used.update(podman('network', 'inspect', '--format',
                           '{{range .Subnets}}{{.Subnet}} {{end}}',
                           name).stdout.split())
    for third in range(200, 255):
        subnet = '10.89.%d.0/24' % third
        if subnet not in used:
            return subnet
    raise AssertionError('no free subnet in 10.89.200-254.0/24: %s' % used)


def compose_env(podman, images, tls_dir, secret_file, https_port):
    """The environment podman-compose runs the project's compose.yaml
    with: the tests' images, certificate, secret, port and network, and a
    project name of this run's."""
    subnet = free_subnet(podman)
    return dict(
        podman.env,
        TUTORIAL_NETWORK=subnet,
        TUTORIAL_PROXY_ADDRESS=subnet.replace('.0/24', '.10'),
        COMPOSE_PROJECT_NAME=podman.name('compose'),
        PYTHON_IMAGE=images['python'],
        TUTORIAL_IMAGE=images['tutorial'],
        REDIS_IMAGE=images['redis'],
        NGINX_IMAGE=images['nginx'],
        TUTORIAL_HTTPS_PORT=str(https_port),
        TUTORIAL_TLS_DIR=tls_dir,
        TUTORIAL_SECRET_FILE=secret_file,
    )
