"""production.ini: a secret from the environment, or no start at all."""
import os
import re

import pytest
from pyramid.paster import get_appsettings

from tutorial.sessions.secrets import (
    DEVELOPMENT_SECRET,
    SECRET_ENV,
    session_secret,
    )

from tests.support.cookies import count_on
from tests.support.project import PROJECT
from tests.support.servers import Server, run_pserve


GOOD_SECRET = 'production-secret-0123456789-' * 3
PRODUCTION = {'tutorial.secret_from_env': 'true'}


@pytest.fixture(scope='module')
def production_settings():
    return get_appsettings(os.path.join(PROJECT, 'production.ini'))


def test_production_has_no_toolbar_no_reloading_and_warn_logging(
        production_settings):
    assert 'pyramid.includes' not in production_settings
    assert production_settings['pyramid.reload_templates'] == 'false'
    assert 'tutorial.session_secret' not in production_settings
    with open(os.path.join(PROJECT, 'production.ini')) as f:
        ini = f.read()
    assert 'debugtoolbar' not in ini
    assert '[logger_root]\nlevel = WARN' in ini


BAD_SECRETS = [
    ({}, 'is not set'),
    ({SECRET_ENV: ''}, 'is not set'),
    ({SECRET_ENV: 'too-short'}, 'is 9 characters long'),
    ({SECRET_ENV: 'x' * 63}, 'is 63 characters long'),
    ({SECRET_ENV: DEVELOPMENT_SECRET}, 'development secret'),
]
BAD_IDS = ['missing', 'empty', 'short', 'one-too-short', 'development']


@pytest.mark.parametrize('environ, problem', BAD_SECRETS, ids=BAD_IDS)
def test_a_bad_secret_is_refused_in_one_line(environ, problem):
    with pytest.raises(SystemExit) as refusal:
        session_secret(PRODUCTION, environ)
    message = str(refusal.value.code)
    assert SECRET_ENV in message and problem in message
    assert '\n' not in message


def test_a_good_secret_comes_from_the_environment():
    assert session_secret(PRODUCTION, {SECRET_ENV: GOOD_SECRET}) \
        == GOOD_SECRET


def test_development_uses_the_setting_and_ignores_the_environment():
    settings = {'tutorial.session_secret': 'from-the-ini'}
    assert session_secret(settings, {SECRET_ENV: GOOD_SECRET}) \
        == 'from-the-ini'
    assert session_secret({}, {}) == DEVELOPMENT_SECRET


@pytest.mark.parametrize('environ, problem', BAD_SECRETS, ids=BAD_IDS)
def test_pserve_production_refuses_to_start_with_a_bad_secret(
        environ, problem):
    code, output = run_pserve('production.ini', environ)
    assert code not in (0, None), output
    lines = output.strip().splitlines()
    # one clear line, naming the variable: no traceback
    assert len(lines) == 1, output
    assert lines[0].startswith('tutorial: %s ' % SECRET_ENV)
    assert problem in lines[0]


def test_pserve_production_serves_with_a_good_secret():
    with Server('production.ini', env={SECRET_ENV: GOOD_SECRET}) as server:
        status, headers, body = server.get('/')
        assert status == 200
        assert count_on(body.decode()) == 1
        cookie = headers['Set-Cookie']
        assert '; secure' in cookie.lower()
        assert '; HttpOnly' in cookie
        assert '; SameSite=Lax' in cookie
        assert b'_debug_toolbar' not in body
        # the Server header names nginx alone, with no version
        assert headers['Server'] == 'nginx'
        session = cookie.split(';')[0]
        status, headers, body = server.get('/howdy', cookie=session)
        assert count_on(body.decode()) == 2
    # WARN logging: a start line, and a quiet stop
    lines = server.output().strip().splitlines()
    assert lines[0] == 'Starting server in PID %d.' % server.process.pid
    assert re.search(r' Serving on http://127\.0\.0\.1:%d with \d+ workers '
                     r'of 4 threads \(uWSGI, behind nginx; \d+ open files\)$'
                     % server.port, lines[1])
    assert len(lines) == 2, lines


def test_an_unknown_session_store_is_refused_in_one_line():
    from tutorial import main

    with pytest.raises(SystemExit) as refusal:
        main({}, **{'tutorial.session_store': 'memcached'})
    assert 'tutorial.session_store' in str(refusal.value.code)


def test_queue_warnings_under_load_are_summed_up_once_a_minute():
    import logging

    from tutorial.operations.queue_warnings import QueueWarningSummary

    from tutorial.operations.log_summary import LogSummary

    clock = [100.0]
    summary = QueueWarningSummary(60, LogSummary(60, lambda: clock[0]))
    records = [logging.LogRecord('waitress.queue', logging.WARNING, '', 0,
                                 'Task queue depth is %d', (depth,), None)
               for depth in [1, 2, 7, 3] * 250]
    passed = [r for r in records if summary.filter(r)]
    # the first goes through at once; the next 999 wait for the minute
    assert len(passed) == 1
    clock[0] += 60  # the minute is over
    last = logging.LogRecord('waitress.queue', logging.WARNING, '', 0,
                             'Task queue depth is %d', (2,), None)
    assert summary.filter(last)
    assert last.getMessage() == ('Task queue depth is 2: all threads busy '
                                 '(1000 such warnings in 60 s, the deepest 7)')


def test_a_bad_queue_warning_interval_is_refused_in_one_line():
    from tutorial import main

    with pytest.raises(SystemExit) as refusal:
        main({}, **{'tutorial.queue_warning_interval': 'often'})
    assert 'tutorial.queue_warning_interval' in str(refusal.value.code)
