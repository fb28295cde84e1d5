import os

import pytest
import webtest
from pyramid.paster import get_appsettings

from tutorial import main

from .support import PROJECT


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
def testapp(app):
    """A browser-like client of the app, keeping its cookies."""
    return webtest.TestApp(app)
