import os

import pytest
import webtest
from pyramid.paster import get_appsettings

from tutorial import main
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.browser import CHROMIUM_ARGS
from tests.support.cookies import PRODUCTION_SECRET
from tests.support.project import (PROJECT, redis_version, require,
                                   settings_env)
from tests.support.redis_servers import RedisServer
from tests.support.tls import make_certificates


def pytest_report_header(config):
    """Which Redis server (or Valkey) the Redis suites run against."""
    return 'redis server: %s' % redis_version()


@pytest.fixture
def ini_file():
    """The ini file the app is built from, as `pserve` would use it."""
    return os.path.join(PROJECT, 'development.ini')


@pytest.fixture
def app_settings(ini_file):
    return get_appsettings(ini_file)


@pytest.fixture
def app(app_settings):
    return main({}, **app_settings)


@pytest.fixture
def app_from_ini(monkeypatch):
    """Builds the app from one of the project's ini files as pserve would,
    with production's secret and ``env`` (nothing else) in the
    environment."""
    def build(ini, **env):
        for name in settings_env():
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(SECRET_ENV, PRODUCTION_SECRET)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return main({}, **get_appsettings(os.path.join(PROJECT, ini)))
    return build


@pytest.fixture(scope='session')
def certificates(tmp_path_factory):
    """A certificate authority of the tests' own, and the server and client
    certificates it signed, made for this run (paths by name)."""
    return make_certificates(str(tmp_path_factory.mktemp('certificates')))


@pytest.fixture(scope='session')
def other_certificates(tmp_path_factory):
    """Another authority, and a server certificate it signed: one that
    clients trusting the first authority refuse."""
    return make_certificates(str(tmp_path_factory.mktemp('other')))


@pytest.fixture(scope='module')
def redis_server():
    """A redis-server of the tests' own, removed after the module."""
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis(redis_server):
    """A client of that server, emptied before each test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def testapp(app):
    """A browser-like client of the app, keeping its cookies."""
    return webtest.TestApp(app)


@pytest.fixture(scope='module')
def browser():
    """Headless Chromium, or a skip that says how to get it."""
    chromium = require('chromium')
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser window, with no cookies yet."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
