"""Sessions that outlive a Redis node: failover, Sentinel and Cluster.

Real redis-server and redis-sentinel processes on free ports: an endpoint
whose node is demoted to a replica and promoted again, a master watched by
three sentinels, and a cluster of three masters and three replicas built
with redis-cli. Visitors browse on threads while a node is killed: no
answer may be a 500, every visitor must get pages again, and no session
may start again at 1. What each scenario measured is printed.
"""
import contextlib
import signal
import threading
import time

import pytest

from tutorial.sessions.redis.keys import SessionKeys
from tutorial.sessions.cookie import SessionSigner
from tutorial.sessions.secrets import DEVELOPMENT_SECRET

from tests.support.cookies import Raw, count_on
from tests.support.redis_servers import RedisServer
from tests.support.redis_topologies import (
    Cluster,
    Sentinels,
    replication_up,
    wait_until,
    )
from tests.support.servers import Server, served_again
from tests.support.visitors import (
    assert_parallel_requests_all_count,
    load,
    visit_concurrently,
    )


VISITORS = 8
#: However a scenario goes, it ends by then.
SCENARIO_LIMIT = 60


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


def through_a_failure(app, fail, label, busy=True):
    """Visitors browse; once each has some pages, ``fail(visitors)`` runs;
    once each has pages again, they stop. Checks what the issue asks and
    prints what was measured. ``busy``: whether a page may get the 429
    of a session whose lock a killed master's replica had received."""
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
    # a 429: a lock the failover left on the promoted node, waited for
    # until it expired
    assert statuses <= ({200, 429, 503} if busy else {200, 503}), statuses
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


def served_by(ini, env):
    """``ini``'s app with sessions in the Redis of ``env``: redis.ini on
    waitress, or production.ini on its uWSGI workers."""
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
        assert sentinels.replica_promoted()


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
        assert sentinels.replica_promoted()
        log = app.output()
    assert 'data-node-password-7Qx' not in log


def hung_until(process, failed_over):
    """SIGSTOP until ``failed_over()`` (the sentinels or the cluster have
    promoted its replica), then SIGCONT: a host that froze, then woke
    with the commands sent to it meanwhile still to run."""
    def fail(crowd):
        process.send_signal(signal.SIGSTOP)
        try:
            wait_until(failed_over, 30, 'the hung master failed over')
        finally:
            process.send_signal(signal.SIGCONT)
    return fail


def test_a_master_hung_behind_sentinels_fails_over_with_no_429(capsys):
    with Sentinels() as sentinels, \
            served_by('production.ini', sentinels.env) as app:
        with capsys.disabled():
            through_a_failure(
                app, hung_until(sentinels.master.process,
                                sentinels.replica_promoted),
                'Sentinel, master hung until failed over (production.ini)',
                busy=False)


def test_a_hanging_master_behind_sentinels_gets_quick_503s(capsys):
    with Sentinels() as sentinels, \
            Server('redis.ini', env=sentinels.env) as app:
        with capsys.disabled():
            hanging(app, sentinels.master.process, 'Sentinel master')


# Cluster: three masters, three replicas.


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


def test_a_cluster_master_hung_fails_over_with_no_429(capsys):
    with Cluster() as cluster, \
            served_by('production.ini', cluster.env) as app:
        masters = cluster.masters()

        def hang_the_busiest_master(crowd):
            ids = {session_id(visitor.cookie, PRODUCTION_SECRET)
                   for visitor in crowd}
            busiest = max(masters,
                          key=lambda node: len(ids & cluster.keys_on(node)))
            # (the hung node is not asked: it would not answer)
            others = [node for node in cluster.nodes if node is not busiest]
            hung_until(busiest.process, lambda: sum(
                cluster.info(node, 'replication')['role'] == 'master'
                for node in others) == len(masters))(crowd)

        with capsys.disabled():
            through_a_failure(app, hang_the_busiest_master,
                              'Cluster, a master hung until failed over '
                              '(production.ini)', busy=False)
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
    topology_of = Sentinels if topology == 'sentinel' else Cluster
    with topology_of() as redis, Server('redis.ini', env=redis.env) as app:
        assert_parallel_requests_all_count(app)
