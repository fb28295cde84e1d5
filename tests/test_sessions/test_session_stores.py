"""main() is the step's, and one setting picks the store behind it.

The printed step registers SignedCookieSessionFactory; so does main().
``tutorial.session_store`` in an ini file, or TUTORIAL_SESSION_STORE in the
environment (which wins), names another store, whose module replaces the
factory in its own includeme.
"""
import ast
import glob
import importlib.util
import json
import os
import re

import pytest
from pyramid.interfaces import ISessionFactory

import tutorial
from tutorial.sessions.stores import STORE_ENV, STORES, session_store

from tests.support.cookies import count_on, https_client, session_in
from tests.support.project import PROJECT
from tests.support.servers import run_pserve


#: The printed step's main(), in its order.
STEP_LINES = [
    'my_session_factory = SignedCookieSessionFactory(',
    'config = Configurator(settings=settings, '
    'session_factory=my_session_factory)',
    "config.include('pyramid_chameleon')",
    "config.add_route('home', '/')",
    "config.add_route('hello', '/howdy')",
    "config.scan('.views')",
]


def test_main_has_the_printed_steps_lines_in_its_order():
    with open(os.path.join(PROJECT, 'tutorial', '__init__.py')) as f:
        source = ' '.join(f.read().split())
    assert 'from pyramid.session import SignedCookieSessionFactory' in source
    positions = [source.find(line) for line in STEP_LINES]
    assert -1 not in positions, [line for line, at
                                 in zip(STEP_LINES, positions) if at == -1]
    assert positions == sorted(positions)


@pytest.fixture
def factories_made(monkeypatch):
    """What main() asks SignedCookieSessionFactory for, and makes."""
    made = []
    step_factory = tutorial.SignedCookieSessionFactory

    def spy(secret, **kw):
        made.append((secret, kw, step_factory(secret, **kw)))
        return made[-1][2]
    monkeypatch.setattr(tutorial, 'SignedCookieSessionFactory', spy)
    return made


def test_the_steps_own_factory_serves_the_cookie_store(factories_made,
                                                       app_from_ini):
    app = app_from_ini('development.ini')
    ((secret, kw, factory),) = factories_made
    assert secret == 'itsaseekreet'
    assert (kw['httponly'], kw['samesite'], kw['secure']) \
        == (True, 'Lax', False)
    assert app.registry.getUtility(ISessionFactory) is factory


def test_production_serves_the_steps_factory_with_its_secret(
        factories_made, app_from_ini):
    app = app_from_ini('production.ini')
    ((secret, kw, factory),) = factories_made
    assert secret == os.environ['TUTORIAL_SESSION_SECRET']
    assert kw['secure'] is True
    assert kw['timeout'] == 1200
    # the step's factory, inside the absolute lifetime production sets
    registered = app.registry.getUtility(ISessionFactory)
    assert registered.factory is factory
    assert registered.lifetime == 43200


# Choosing the store.

@pytest.mark.parametrize('setting, environ, store', [
    (None, None, 'cookie'),
    ('redis', None, 'redis'),
    ('encrypted', None, 'encrypted'),
    (None, 'redis', 'redis'),
    # the environment wins over the ini file
    ('redis', 'cookie', 'cookie'),
    ('cookie', 'encrypted', 'encrypted'),
])
def test_the_store_comes_from_the_environment_then_the_setting(
        setting, environ, store):
    settings = {'tutorial.session_store': setting} if setting else {}
    assert session_store(settings, {STORE_ENV: environ} if environ else {}) \
        == store


@pytest.mark.parametrize('settings, environ', [
    ({'tutorial.session_store': 'memcached'}, {}),
    ({}, {STORE_ENV: 'Redis'}),
    ({'tutorial.session_store': 'redis'}, {STORE_ENV: 'files'}),
])
def test_an_unknown_store_is_refused_in_one_line(settings, environ):
    with pytest.raises(SystemExit) as refusal:
        session_store(settings, environ)
    message = str(refusal.value.code)
    assert '\n' not in message
    assert 'tutorial.session_store' in message and STORE_ENV in message
    assert 'cookie, encrypted, redis' in message


@pytest.mark.parametrize('ini', ['development.ini', 'production.ini'])
def test_pserve_stops_on_an_unknown_store_with_one_line(ini):
    code, output = run_pserve(ini, {
        STORE_ENV: 'memcached',
        'TUTORIAL_SESSION_SECRET': 'store-test-secret-0123456789-' * 3})
    assert code == 1, output
    (line,) = output.strip().splitlines()
    assert line.startswith('tutorial: tutorial.session_store')
    assert "'memcached'" in line


def visit_three_times(app):
    # over https, where a browser sends production's Secure cookie too
    client = https_client(app)
    counts = [count_on(client.get(path).text)
              for path in ('/', '/howdy', '/')]
    assert counts == [1, 2, 3]
    return client.cookies['session']


@pytest.mark.parametrize('ini, env', [
    ('redis.ini', {}),
    ('development.ini', {STORE_ENV: 'redis'}),
    ('production.ini', {STORE_ENV: 'redis'}),
])
def test_redis_is_chosen_by_the_ini_file_or_the_environment(
        app_from_ini, redis_server, redis, ini, env):
    cookie = visit_three_times(app_from_ini(
        ini, TUTORIAL_REDIS_URL=redis_server.url, **env))
    assert 'counter' not in cookie
    (key,) = redis.keys('*')
    assert json.loads(redis.get(key))['m']['counter'] == 3


@pytest.mark.parametrize('ini', ['development.ini', 'redis.ini'])
def test_the_environment_can_name_the_steps_cookie_store(
        app_from_ini, redis_server, redis, ini):
    cookie = visit_three_times(app_from_ini(
        ini, TUTORIAL_REDIS_URL=redis_server.url,
        **{STORE_ENV: 'cookie'}))
    assert session_in(cookie)['counter'] == 3
    assert redis.keys('*') == []


def test_every_store_has_a_module_of_its_name():
    for store in STORES:
        assert importlib.util.find_spec('tutorial.sessions.' + store), store


# No private overrides.

def test_no_class_of_the_app_defines_an_underscore_method():
    # a method named _x on a subclass of Pyramid's, WebOb's or redis-py's
    # classes would override a private method, which a patch release may
    # rename or change; the app defines none, on any class
    found = []
    for path in glob.glob(os.path.join(PROJECT, 'tutorial', '**', '*.py'),
                          recursive=True):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found += [
                    '%s: %s.%s' % (os.path.basename(path), node.name,
                                   item.name)
                    for item in node.body
                    if isinstance(item, ast.FunctionDef)
                    and re.match(r'_(?!_.*__$)', item.name)]
    assert found == []
