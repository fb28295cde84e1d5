"""The commands pyramid_session_redis sends for a session it knows (get,
setex, delete), with the session's lock around them: taken with the read,
given back with the save, waited for in one line a session in each
process. docs/redis.rst says why, and what each bound is for."""
import contextlib
import os
import secrets
import threading
import time

from redis.exceptions import ResponseError

from ...config.settings import bool_setting
from .causes import SessionBusy
from .keys import lock_key, request_sessions
from .timeouts import REDIS_TIMEOUT

#: How long after it was asked for a lock ends, if its holder never gives
#: it back: REDIS_TIMEOUT, for the answer to come, and half a second, for
#: the request's own work (milliseconds) and its save. A request that
#: stopped waiting for the answer may still have taken the lock, when
#: Redis runs the command late: that lock then ends at most 0.5 s after
#: Redis was back (docs/redis.rst).
LOCK_EXPIRY_MS = int((REDIS_TIMEOUT + 0.5) * 1000)
#: How long a request waits for its session's lock.
LOCK_WAIT = 2.0
#: Between two tries for a lock.
LOCK_POLL = 0.005
#: How many of one session's requests may wait for its lock in one
#: process, while another holds it: a person's tabs, reloaded at once.
MAX_WAITING = 8

LOCK_ENV = 'TUTORIAL_REDIS_SESSION_LOCK'


def takes_locks(settings, environ=os.environ):
    """Whether a request takes its session's lock: yes, unless
    ``tutorial.redis_session_lock`` (or its variable) says no."""
    return bool_setting(settings, 'tutorial.redis_session_lock', LOCK_ENV,
                        default=True, environ=environ)


def waiting_requests(settings, environ=os.environ):
    """How many requests of one session may wait for its lock in one
    process: the threads a server gives a worker beyond those the app
    works on, so that one session's line never holds them all."""
    return MAX_WAITING if takes_locks(settings, environ) else 0


#: Delete the lock only if it still holds this request's token.
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def session_value(answer):
    """A read's answer, or the error it raised or returned: a key of
    another type (a list, a hash) reads as no session, so that a new one
    starts instead of an error."""
    if not isinstance(answer, Exception):
        return answer
    if isinstance(answer, ResponseError) \
            and str(answer).startswith('WRONGTYPE'):
        return None
    raise answer


#: How many requests of each session wait for its lock in this process,
#: and the line they wait in (its first asks Redis).
WAITING = {}
LINES = {}
WAITING_LOCK = threading.Lock()


def crowded(name):
    """Whether MAX_WAITING requests of session ``name`` wait for its lock
    in this process already."""
    return WAITING.get(name, 0) >= MAX_WAITING


def crowded_error():
    """What a request of a crowded session is turned away with."""
    return SessionBusy('%d of its requests wait for its lock here already'
                       % MAX_WAITING)


def waited_too_long():
    """What a request whose wait for the lock ran out gets."""
    return SessionBusy('its lock stayed taken for %g s' % LOCK_WAIT)


@contextlib.contextmanager
def place_to_wait(name):
    """A place among the requests that wait for session ``name``'s lock
    in this process, or SessionBusy at once when they are MAX_WAITING
    already: the line they wait in, a lock that its first holds."""
    with WAITING_LOCK:
        if crowded(name):
            raise crowded_error()
        WAITING[name] = WAITING.get(name, 0) + 1
        line = LINES.setdefault(name, threading.Lock())
    try:
        yield line
    finally:
        with WAITING_LOCK:
            if WAITING[name] > 1:
                WAITING[name] -= 1
            else:
                del WAITING[name]
                del LINES[name]


class SessionCommands:
    """Mixed into the store's client (one endpoint, a sentinel's master,
    a cluster): ``session_lock`` says whether requests take their
    session's lock."""

    session_lock = True
    #: redis-py's cluster pipelines take no scripts: there the save and
    #: the release are two round trips
    pipelines_run_scripts = True

    def get(self, name):
        session = request_sessions().get(name)
        if session is None:
            return self.read(name)  # not a session of this request
        if not self.session_lock:
            value = self.read(name)
        else:
            value = self.locked_read(name, session)
        if value is None and session.old_keys:
            value = self.moved(name, session.old_keys)
        return value

    def read(self, name):
        try:
            return super().get(name)
        except ResponseError as e:
            return session_value(e)

    def locked_read(self, name, session):
        """Take the session's lock and read the session, in one round
        trip each try."""
        token = secrets.token_hex(16)
        taken, value = self.take_and_read(name, token)
        if not taken:
            deadline = time.monotonic() + LOCK_WAIT
            with place_to_wait(name) as line:
                # the first of the line asks Redis; the rest wait here
                if not line.acquire(timeout=LOCK_WAIT):
                    raise waited_too_long()
                try:
                    while not taken:
                        if time.monotonic() >= deadline:
                            raise waited_too_long()
                        time.sleep(LOCK_POLL)
                        taken, value = self.take_and_read(name, token)
                finally:
                    line.release()
        session.lock_token = token
        return session_value(value)

    def take_and_read(self, name, token):
        """One try: whether the lock was taken, and the session's value."""
        ends = int(time.time() * 1000) + LOCK_EXPIRY_MS
        with self.pipeline(transaction=False) as pipe:
            pipe.set(lock_key(name), token, nx=True, pxat=ends)
            pipe.get(name)
            taken, value = pipe.execute(raise_on_error=False)
        if isinstance(taken, Exception):
            raise taken
        return taken, value

    def moved(self, name, old_keys):
        """A session under the key of an old secret, while the secret is
        changed: moved to ``name``, once."""
        for old_key in old_keys:
            value = self.read(old_key)
            if value is None:
                continue
            ttl = self.pttl(old_key)
            self.set(name, value, px=ttl if ttl and ttl > 0 else None)
            self.delete(old_key)
            return value
        return None

    def setex(self, name, time, value):
        session = request_sessions().get(name)
        if session is None or session.lock_token is None:
            return super().setex(name, time, value)
        if not self.pipelines_run_scripts:
            saved = super().setex(name, time, value)
            self.release(name)
            return saved
        # the save and the lock's release, in one round trip
        with self.pipeline(transaction=False) as pipe:
            pipe.setex(name, time, value)
            pipe.eval(RELEASE, 1, lock_key(name), session.lock_token)
            saved, _ = pipe.execute()
        session.lock_token = None
        return saved

    def release(self, name):
        """Give back the session's lock if this request still holds it
        (no save came: the session did not change)."""
        session = request_sessions().get(name)
        if session is not None and session.lock_token is not None:
            token, session.lock_token = session.lock_token, None
            self.eval(RELEASE, 1, lock_key(name), token)

    def release_all(self):
        for name in list(request_sessions()):
            self.release(name)
