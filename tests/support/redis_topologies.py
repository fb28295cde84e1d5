"""Redis as people run it for failover: a master with a replica and three
sentinels, and a cluster of three masters with a replica each; real
processes on free ports, all stopped on the way out."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import redis as redis_py

from .processes import free_port, stop_process, wait_until_accepting
from .project import redis_program
from .redis_servers import RedisServer


def wait_until(condition, limit, what):
    """Poll ``condition`` until it holds; fail, saying ``what``, after
    ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, 'not within %d s: %s' % (
            limit, what)
        time.sleep(0.05)


def replication_up(client):
    return client.info('replication').get('master_link_status') == 'up'


class Sentinels:
    """A master, its replica and three redis-sentinel processes watching
    it as 'tutorial', on free ports; all stopped on the way out. The data
    nodes may want a ``password`` (for the user 'app') and speak ``tls``
    only; the sentinels themselves speak plain TCP."""

    SERVICE = 'tutorial'

    def __init__(self, password=None, tls=None):
        self.binary = redis_program('sentinel')
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
                assert wait_until_accepting(port, process, 10), \
                    'sentinel started'
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

    def replica_promoted(self):
        """Whether the replica is the master now, by its own word. (Not by
        a sentinel's: the one that led the failover tells the others a
        moment later, so a given sentinel may still name the old master
        when a client, asking another, has found the new one.)"""
        client = self.replica.client()
        try:
            role = client.execute_command('ROLE')[0]
        except redis_py.ConnectionError:
            # as it promotes the replica, the leading sentinel has it
            # close its clients' connections (CLIENT KILL TYPE normal),
            # this one's among them: ask again
            return False
        finally:
            client.close()
        return role in (b'master', 'master')

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
        self.cli = redis_program('cli')
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
