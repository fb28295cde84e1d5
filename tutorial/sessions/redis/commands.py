"""The commands pyramid_session_redis sends for a session it knows: get,
setex and delete, with a lock per session around them.

Without a lock, requests of one session (several tabs, a page and its
Reset) each read the session, add one, and write it whole: the last
write wins, counts are lost, and a Reset can be undone by a request that
read the session before it. So, as PHP's and ASP.NET's session handlers
do, a request takes its session's lock before it reads the session and
gives it back after it has saved it:

- the lock is a key beside the session's (``KEY:lock``, in the same
  cluster slot), set with NX in the same round trip as the read, and
  ending at a time set by the clock (PXAT), LOCK_EXPIRY_MS after it was
  asked for: a try that Redis runs late, after its request stopped
  waiting (a Redis that hung, then woke), takes no lock that outlives
  that request by more than half a second;
- it holds a random token, and is released only by its holder (a
  compare-and-delete script, in the same round trip as the save);
- a request waits for it at most LOCK_WAIT seconds, then gets the 429
  page (SessionBusy); a holder that died loses it when it expires;
- in each process, a session's waiting requests line up, and only the
  first of the line asks Redis (every LOCK_POLL seconds): the others
  wait on a lock in memory, costing nothing;
- in each process, at most MAX_WAITING requests of a session wait: as
  many as a person's tabs opened at once, so that none of those is
  refused, and fewer than a worker's threads (production's server gives
  it 4 more: stores.waiting_requests), so that one session's flood
  cannot hold them all. Any more get the 429 page at once.

A first visit (no cookie) takes no lock; sessions never wait for each
other. ``tutorial.redis_session_lock = false`` turns it off.
"""
import contextlib
import secrets
import threading
import time

from redis.exceptions import ResponseError

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
        if value is None and session.former_keys:
            value = self.moved(name, session.former_keys)
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

    def moved(self, name, former_keys):
        """A session an older release left under another key (the raw
        token, or a key of an old secret): moved to ``name``, once."""
        for former in former_keys:
            value = self.read(former)
            if value is None:
                continue
            ttl = self.pttl(former)
            self.set(name, value, px=ttl if ttl and ttl > 0 else None)
            self.delete(former)
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
