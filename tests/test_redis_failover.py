"""Sessions that outlive a Redis node: failover, Sentinel and Cluster.

Real redis-server and redis-sentinel processes on free ports: an endpoint
whose node is demoted to a replica and promoted again, a master watched by
three sentinels, and a cluster of three masters and three replicas built
with redis-cli. Visitors browse on threads while a node is killed: no
answer may be a 500, every visitor must get pages again, and no session
may start again at 1. What each scenario measured is printed.
"""
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis as redis_py

from tutorial.sessions.redis.keys import SessionKeys
from tutorial.sessions.signing import DEVELOPMENT_SECRET, SessionSigner
from tutorial.tests import count_on

from .support import (
    Raw,
    RedisServer,
    Server,
    free_port,
    require,
    served_again,
    stop_process,
    visit_concurrently,
    wait_for_port,
    )
from .test_load import load

VISITORS = 8
#: However a scenario goes, it ends by then.
SCENARIO_LIMIT = 60


def wait_until(condition, limit, what):
    """Poll ``condition`` until it holds; fail, saying ``what``, after
    ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, 'not within %d s: %s' % (
            limit, what)
        time.sleep(0.05)


def session_id(cookie, secret=DEVELOPMENT_SECRET):
    """The Redis key of a visitor's cookie: derived from the token the
    cookie carries, signed with ``secret``."""
    value = cookie.split('=', 1)[1]
    token = SessionSigner(secret, salt='pyramid_session_redis.',
                          serializer=Raw()).loads(value.encode())
    return SessionKeys(secret).keys(token.decode())[0].encode()


class Visitor(threading.Thread):
    """Browses / and /howdy in turn until told to stop, noting each
    answer: when, its status, and the count a page showed."""

    def __init__(self, app, stop):
        super().__init__()
        self.app = app
        self.stop = stop
        self.cookie = None
        self.answers = []  # (time, status, count or None)

    def run(self):
        paths = ('/', '/howdy')
        while not self.stop.is_set():
            status, headers, body = self.app.get(
                paths[len(self.answers) % 2], cookie=self.cookie)
            count = count_on(body.decode()) if status == 200 else None
            self.answers.append((time.monotonic(), status, count))
            if status == 200 and self.cookie is None:
                self.cookie = headers['Set-Cookie'].split(';')[0]

    def pages(self, since=0.0):
        return [a for a in self.answers if a[1] == 200 and a[0] >= since]


@contextlib.contextmanager
def browsing(app, visitors=VISITORS):
    """Visitors browsing ``app`` on threads, stopped on the way out."""
    stop = threading.Event()
    crowd = [Visitor(app, stop) for _ in range(visitors)]
    for visitor in crowd:
        visitor.start()
    try:
        yield crowd
    finally:
        stop.set()
        for visitor in crowd:
            visitor.join(30)


def through_a_failure(app, fail, label):
    """Visitors browse; once each has some pages, ``fail(visitors)`` runs;
    once each has pages again, they stop. Checks what the issue asks and
    prints what was measured."""
    started = time.monotonic()
    with browsing(app) as crowd:
        wait_until(lambda: all(len(v.pages()) >= 5 for v in crowd), 30,
                   'every visitor browsing')
        failed_at = time.monotonic()
        fail(crowd)
        wait_until(lambda: all(len(v.pages(failed_at)) >= 5 for v in crowd),
                   SCENARIO_LIMIT, 'every visitor served again')
    answers = [a for v in crowd for a in v.answers]
    statuses = {status for _, status, _ in answers}
    assert statuses <= {200, 503}, statuses
    longest_gap, stepped_back = 0.0, 0
    for visitor in crowd:
        pages = visitor.pages()
        counts = [count for _, _, count in pages]
        # no session was lost: none starts again at 1
        assert counts[0] == 1 and 1 not in counts[1:], counts
        stepped_back += sum(b <= a for a, b in zip(counts, counts[1:]))
        times = [t for t, _, _ in pages]
        longest_gap = max([longest_gap] + [b - a for a, b
                                           in zip(times, times[1:])])
    print('\n  %s: %d answers (%d were 503), the longest a visitor went '
          'without a page %.2f s, %d counts stepped back, %.1f s in all'
          % (label, len(answers),
             sum(status == 503 for _, status, _ in answers), longest_gap,
             stepped_back, time.monotonic() - started))
    return crowd


def hanging(app, process, label):
    """16 visitors while ``process`` is stopped (SIGSTOP) for 3 s: every
    answer a page or a 503, none a 500; the longest answer printed."""
    process.send_signal(signal.SIGSTOP)
    try:
        statuses, longest = visit_concurrently(app, 16, 3)
    finally:
        process.send_signal(signal.SIGCONT)
    assert set(statuses) <= {200, 503}, set(statuses)
    print('\n  %s hanging, 16 visitors: %d answers (%d were 503), the '
          'longest %.2f s' % (label, len(statuses), statuses.count(503),
                              longest))


def replication_up(client):
    return client.info('replication').get('master_link_status') == 'up'


# One endpoint whose node is demoted, as a managed Redis fails over.

def test_a_demoted_endpoint_costs_503s_and_pages_return(capsys):
    with RedisServer() as a, RedisServer() as b, \
            Server('redis.ini', env={'TUTORIAL_REDIS_URL': a.url}) as app:
        first, second = a.client(), b.client()
        try:
            second.replicaof('127.0.0.1', a.port)
            wait_until(lambda: replication_up(second), 20, 'b replicating')
            status, headers, body = app.get('/')
            cookie = headers['Set-Cookie'].split(';')[0]
            assert count_on(app.get('/', cookie=cookie)[2].decode()) == 2
            # b has every write before it is promoted (replication is
            # asynchronous: otherwise the last ones may not have reached it)
            assert first.wait(1, 5000) == 1
            # the failover: b takes over, a (behind the app's endpoint)
            # becomes its replica and refuses writes
            second.replicaof('no', 'one')
            first.replicaof('127.0.0.1', b.port)
            wait_until(lambda: replication_up(first), 20, 'a replicating')
            for _ in range(3):
                status, headers, body = app.get('/', cookie=cookie)
                assert status == 503
            # and back: a is the primary again
            first.replicaof('no', 'one')
            second.replicaof('127.0.0.1', a.port)
            promoted = time.monotonic()
            body = served_again(app, cookie)
            served_after = time.monotonic() - promoted
            assert count_on(body.decode()) == 3
        finally:
            first.close()
            second.close()
        log = app.output()
    assert 'the node is a read-only replica now (READONLY)' in log
    with capsys.disabled():
        print('\n  demoted endpoint: pages again %.2f s after it was '
              'promoted' % served_after)


# Sentinel: one master, one replica, three sentinels.

class Sentinels:
    """A master, its replica and three redis-sentinel processes watching
    it as 'tutorial', on free ports; all stopped on the way out. The data
    nodes may want a ``password`` (for the user 'app') and speak ``tls``
    only; the sentinels themselves speak plain TCP."""

    SERVICE = 'tutorial'

    def __init__(self, password=None, tls=None):
        self.binary = require('redis-sentinel', 'redis-sentinel')
        self.password = password
        self.tls = tls
        # what a node needs to reach another: the replica its master, a
        # sentinel the nodes
        reach = []
        if password:
            reach += ['masteruser app', 'masterauth ' + password]
        if tls:
            reach += ['tls-replication yes']
        # (a replica's first copy at once, not after Redis's usual 5 s)
        self.master = RedisServer(password=password, tls=tls, config=[
            'repl-diskless-sync-delay 0'])
        self.replica = RedisServer(password=password, tls=tls, config=[
            'replicaof 127.0.0.1 %d' % self.master.port] + reach)
        self.sentinel_config = []
        if password:
            self.sentinel_config += [
                'sentinel auth-user %s app' % self.SERVICE,
                'sentinel auth-pass %s %s' % (self.SERVICE, password)]
        if tls:
            # TLS to the nodes and to each other, and on their own port
            self.sentinel_config += [
                'tls-cert-file ' + tls['server'],
                'tls-key-file ' + tls['server_key'],
                'tls-ca-cert-file ' + tls['ca'], 'tls-replication yes',
                'tls-auth-clients no']
        self.dir = tempfile.mkdtemp(prefix='tutorial-sentinels-')
        self.ports = [free_port() for _ in range(3)]
        self.processes = []

    def __enter__(self):
        try:
            self.master.start()
            self.replica.start()
            # its first copy of the data: a replica promoted before it has
            # one would lose every session
            replica = self.replica.client()
            try:
                wait_until(lambda: replication_up(replica), 30,
                           'the replica has its first copy of the data')
            finally:
                replica.close()
            for port in self.ports:
                config = os.path.join(self.dir, 'sentinel-%d.conf' % port)
                with open(config, 'w') as f:
                    f.write('\n'.join([
                        ('port 0\ntls-port %d' if self.tls else 'port %d')
                        % port, 'bind 127.0.0.1',
                        'dir ' + self.dir,
                        'sentinel monitor %s 127.0.0.1 %d 2'
                        % (self.SERVICE, self.master.port),
                        'sentinel down-after-milliseconds %s 1000'
                        % self.SERVICE,
                        'sentinel failover-timeout %s 5000' % self.SERVICE,
                        *self.sentinel_config,
                    ]) + '\n')
                process = subprocess.Popen(
                    [self.binary, config], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                self.processes.append(process)
                assert wait_for_port(port, process, 10), 'sentinel started'
            wait_until(self.all_know_each_other, 30,
                       'the sentinels know the replica and each other')
        except BaseException:
            self.__exit__()
            raise
        return self

    def ask(self, port, *command):
        tls = {'ssl': True, 'ssl_ca_certs': self.tls['ca']} if self.tls \
            else {}
        client = redis_py.Redis(port=port, socket_timeout=2, **tls)
        try:
            return client.execute_command(*command)
        finally:
            client.close()

    def all_know_each_other(self):
        return all(
            len(self.ask(port, 'SENTINEL', 'REPLICAS', self.SERVICE)) == 1
            and len(self.ask(port, 'SENTINEL', 'SENTINELS',
                             self.SERVICE)) == 2
            for port in self.ports)

    def master_port(self):
        return int(self.ask(self.ports[0], 'SENTINEL',
                            'GET-MASTER-ADDR-BY-NAME', self.SERVICE)[1])

    @property
    def env(self):
        # the data nodes' user, password and TLS: the host is not used
        url = 'rediss://' if self.tls else 'redis://'
        if self.password:
            url += 'app:%s@' % self.password
        url += 'sentinels-name-the-host/0'
        if self.tls:
            url += '?ssl_ca_certs=' + self.tls['ca']
        return {
            'TUTORIAL_REDIS_SENTINELS': ' '.join(
                '127.0.0.1:%d' % port for port in self.ports),
            'TUTORIAL_REDIS_SERVICE': self.SERVICE,
            'TUTORIAL_REDIS_URL': url,
        }

    def __exit__(self, *exc):
        for process in self.processes:
            stop_process(process)
        self.master.remove()
        self.replica.remove()
        shutil.rmtree(self.dir, ignore_errors=True)


def served_by(ini, env):
    """``ini``'s app with sessions in the Redis of ``env``: redis.ini on
    waitress, or production.ini on its granian workers."""
    if ini == 'production.ini':
        env = dict(env, TUTORIAL_SESSION_STORE='redis',
                   TUTORIAL_SESSION_SECRET=PRODUCTION_SECRET)
    return Server(ini, env=env)


#: A secret production accepts.
PRODUCTION_SECRET = 'failover-production-secret-0123456789-' * 2


@pytest.mark.parametrize('ini', ['redis.ini', 'production.ini'])
def test_sentinel_fails_over_with_no_500_and_no_session_lost(ini, capsys):
    with Sentinels() as sentinels, \
            served_by(ini, sentinels.env) as app:
        with capsys.disabled():
            through_a_failure(
                app, lambda crowd: sentinels.master.process.kill(),
                'Sentinel, master killed (%s)' % ini)
        assert sentinels.master_port() == sentinels.replica.port


@pytest.mark.parametrize('tls', [False, True], ids=['password',
                                                    'password and TLS'])
def test_sentinels_reach_data_nodes_with_a_password_and_tls(tls,
                                                          certificates):
    with Sentinels(password='data-node-password-7Qx',
                   tls=certificates if tls else None) as sentinels, \
            Server('redis.ini', env=sentinels.env) as app:
        status, headers, body = app.get('/')
        cookie = headers['Set-Cookie'].split(';')[0]
        assert count_on(app.get('/howdy', cookie=cookie)[2].decode()) == 2
        sentinels.master.process.kill()
        body = served_again(app, cookie, limit=30)
        assert count_on(body.decode()) == 3
        assert sentinels.master_port() == sentinels.replica.port
        log = app.output()
    assert 'data-node-password-7Qx' not in log


def test_a_hanging_master_behind_sentinels_gets_quick_503s(capsys):
    with Sentinels() as sentinels, \
            Server('redis.ini', env=sentinels.env) as app:
        with capsys.disabled():
            hanging(app, sentinels.master.process, 'Sentinel master')


# Cluster: three masters, three replicas.

def free_cluster_port():
    """A free port below 55536 whose cluster bus port, 10000 above it, is
    free too."""
    for _ in range(1000):
        port = random.randint(20000, 45535)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(('127.0.0.1', candidate))
        except OSError:
            continue
        return port
    raise AssertionError('no free pair of ports for a cluster node')


class Cluster:
    """Six redis-servers made one cluster by `redis-cli --cluster create`
    (three masters, a replica each, cluster-node-timeout 1000)."""

    def __init__(self):
        self.cli = require('redis-cli', 'redis-tools')
        self.nodes = []
        for _ in range(6):
            port = free_cluster_port()
            self.nodes.append(RedisServer(port=port, config=[
                'cluster-enabled yes', 'cluster-node-timeout 1000',
                'cluster-config-file nodes-%d.conf' % port,
                'repl-diskless-sync-delay 0']))

    def __enter__(self):
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [self.cli, '--cluster', 'create', '--cluster-replicas', '1',
                 '--cluster-yes'] + ['127.0.0.1:%d' % node.port
                                     for node in self.nodes],
                check=True, capture_output=True, timeout=60)
            wait_until(self.ready, 30, 'the cluster ready')
        except BaseException:
            self.__exit__()
            raise
        return self

    def info(self, node, section):
        client = node.client()
        try:
            return client.info(section) if section != 'cluster' \
                else client.cluster('info')
        finally:
            client.close()

    def ready(self):
        return all(
            self.info(node, 'cluster')['cluster_state'] == 'ok'
            and (self.info(node, 'replication')['role'] == 'master'
                 or replication_up(node.client()))
            for node in self.nodes if node.process.poll() is None)

    def masters(self):
        return [node for node in self.nodes if node.process.poll() is None
                and self.info(node, 'replication')['role'] == 'master']

    def keys_on(self, node):
        client = node.client()
        try:
            return set(client.keys('*'))
        finally:
            client.close()

    @property
    def env(self):
        return {'TUTORIAL_REDIS_CLUSTER': 'yes',
                'TUTORIAL_REDIS_URL': self.nodes[0].url}

    def __exit__(self, *exc):
        for node in self.nodes:
            node.remove()


@pytest.mark.parametrize('ini', ['redis.ini', 'production.ini'])
def test_the_cluster_spreads_sessions_and_outlives_a_master(ini, capsys):
    with Cluster() as cluster, served_by(ini, cluster.env) as app:
        masters = cluster.masters()
        assert len(masters) == 3
        # more visitors until every master holds sessions: ids are random
        for _ in range(300):
            if all(cluster.keys_on(node) for node in masters):
                break
            assert app.get('/')[0] == 200
        assert all(cluster.keys_on(node) for node in masters)

        def kill_the_busiest_master(crowd):
            # the master holding the most of the visitors' sessions
            secret = PRODUCTION_SECRET if ini == 'production.ini' \
                else DEVELOPMENT_SECRET
            ids = {session_id(visitor.cookie, secret) for visitor in crowd}
            busiest = max(masters,
                          key=lambda node: len(ids & cluster.keys_on(node)))
            assert ids & cluster.keys_on(busiest)
            busiest.process.kill()

        with capsys.disabled():
            through_a_failure(app, kill_the_busiest_master,
                              'Cluster, a master killed (%s)' % ini)
        wait_until(cluster.ready, 30, 'the cluster whole again')


def test_a_hanging_cluster_master_gets_quick_503s(capsys):
    with Cluster() as cluster, Server('redis.ini', env=cluster.env) as app:
        with capsys.disabled():
            hanging(app, cluster.masters()[0].process, 'Cluster master')


def test_on_the_cluster_every_returning_count_rises_by_exactly_one():
    with Cluster() as cluster, Server('redis.ini', env=cluster.env) as app:
        visitors = load(app.port, 4000)
    for visitor in visitors:
        assert visitor.errors == [], visitor.errors[:5]
    assert sum(v.done for v in visitors) == 4000


# The lock per session, behind sentinels and on a cluster: the session and
# its lock share a slot (a hash tag), and parallel tabs lose no count.

@pytest.mark.parametrize('topology', ['sentinel', 'cluster'])
def test_parallel_requests_of_one_session_lose_no_count(topology):
    from .test_session_takeover import assert_parallel_requests_all_count

    topology_of = Sentinels if topology == 'sentinel' else Cluster
    with topology_of() as redis, Server('redis.ini', env=redis.env) as app:
        assert_parallel_requests_all_count(app)
