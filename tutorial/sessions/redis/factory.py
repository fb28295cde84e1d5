"""The session factory: pyramid_session_redis over the store's client,
the cookie signed as the cookie store signs it, the data checked as the
cookie stores check theirs."""
import json

from pyramid_session_redis import RedisSessionFactory

from ..cookie import SessionSigner
from ..data import clean_state, dump_json, is_int, is_time
from ..factories import cookie_flags
from ..secrets import session_secrets
from .causes import STORE_ERRORS
from .keys import SessionKeys, SessionTokenText, begin_request


def deserialize(data):
    """JSON from Redis, with the session's own data checked as for cookies.

    What Redis holds was written by the server, but perhaps by an older
    version of the app, or by something else; anything raised here starts
    a new session.
    """
    payload = json.loads(data)
    if not (isinstance(payload, dict)
            and isinstance(payload.get('m'), dict)
            and is_time(payload.get('c'))
            and is_int(payload.get('v'))
            and all(payload.get(key) is None or is_int(payload[key])
                    for key in ('t', 'x'))):
        raise ValueError('not a session of pyramid_session_redis')
    payload['m'] = clean_state(payload['m'])
    return payload


def redis_session_factory(settings, get_client):
    # the cookie signer of the cookie store, with pyramid_session_redis's
    # salt, over the session's token; Redis sees only keys derived from it
    secret, old_secrets = session_secrets(settings)
    keys = SessionKeys(secret, old_secrets)
    signer = SessionSigner(secret, old_secrets,
                           salt='pyramid_session_redis.',
                           serializer=SessionTokenText(keys))
    flags = cookie_flags(settings)
    factory = RedisSessionFactory(
        None,
        cookie_name=flags['cookie_name'],
        cookie_signer=signer,
        redis_client_callable=lambda request, **options: get_client(),
        cookie_secure=flags['secure'],
        cookie_httponly=flags['httponly'],
        cookie_samesite=flags['samesite'],
        timeout=flags['timeout'],
        serialize=dump_json,
        deserialize=deserialize,
        deserialized_fails_new=True,
        id_generator=keys.new_key,
    )
    rotating = len(signer.hmacs) > 1

    def release_locks(request):
        try:
            get_client().release_all()
        except STORE_ERRORS:
            pass  # the lock expires on its own within seconds

    def session_factory(request):
        begin_request()
        session = factory(request)
        request.add_finished_callback(release_locks)
        # pyramid_session_redis sets the cookie only for a new session:
        # one read with an old secret is signed again with the current one
        cookie = request.cookies.get(flags['cookie_name']) if rotating \
            else None
        if cookie:
            try:
                if signer.loads_with(cookie.encode('ascii'))[1]:
                    session.please_recookie()
            except ValueError:
                pass  # not signed by any accepted secret: a new session
        return session

    def key_of(cookie):
        """The Redis key a session cookie names, or None if it names
        none."""
        try:
            return signer.loads(cookie.encode('ascii'))
        except (ValueError, UnicodeError):
            return None
    session_factory.key_of = key_of
    return session_factory
