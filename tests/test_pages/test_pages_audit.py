"""The pages a person sees, in Chromium against `pserve production.ini`.

An accessibility audit (axe-core) of every page the app shows, the home
page on a phone, no console error anywhere under production's strict
Content-Security-Policy, and a page elsewhere that tries to frame the app
and is shown nothing of it. Screenshots go to screenshots/.
"""
import http.server
import os
import threading

import pytest

from tutorial.pages.flash import RESET_MESSAGE
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.browser import shot
from tests.support.cookies import count_on
from tests.support.processes import free_port
from tests.support.project import PROJECT, missing
from tests.support.servers import Server


AXE = os.path.join(PROJECT, 'node_modules', 'axe-core', 'axe.min.js')
PHONE = {'viewport': {'width': 375, 'height': 667},
         'device_scale_factor': 2, 'is_mobile': True, 'has_touch': True}
DESKTOP = {'viewport': {'width': 1280, 'height': 800}}


@pytest.fixture(scope='module')
def server():
    env = {SECRET_ENV: 'pages-audit-secret-0123456789-' * 3}
    with Server('production.ini', env=env) as server:
        yield server


@pytest.fixture(scope='module')
def axe_source():
    """axe-core's script, or a skip (under CI, a failure) saying how."""
    if not os.path.exists(AXE):
        missing('axe-core not found: run `npm install` in %s to run the '
                'accessibility audit' % PROJECT)
    with open(AXE, encoding='utf-8') as f:
        return f.read()


@pytest.fixture
def open_page(browser):
    """Opens a window in a browser context of its own (a phone's, say);
    every one is closed after the test."""
    contexts = []

    def open_page(**options):
        contexts.append(browser.new_context(**options))
        page = contexts[-1].new_page()
        page.set_default_timeout(15000)
        return page
    yield open_page
    for context in contexts:
        context.close()


def audit(page, axe_source):
    """axe-core's violations on the page as it is now: rule, impact, where."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate('axe.run(document)')
    return [(v['id'], v['impact'], [n['target'] for n in v['nodes']])
            for v in result['violations']]


def each_page(page, server):
    """Visit each page a person can see, yielding its name once there."""
    page.goto(server.url + '/')
    yield 'home'
    page.goto(server.url + '/howdy')
    yield 'howdy'
    page.get_by_role('button', name='Reset the counter').click()
    page.wait_for_url(server.url + '/')
    assert page.get_by_role('status').inner_text() == RESET_MESSAGE
    yield 'after reset'
    page.evaluate(
        "document.querySelector('input[name=csrf_token]').value = 'forged'")
    page.get_by_role('button', name='Reset the counter').click()
    page.wait_for_load_state()
    assert page.title() == 'Quick Tutorial: form refused'
    yield 'form refused'
    page.goto(server.url + '/%ff')
    assert page.title() == 'Quick Tutorial: request not understood'
    yield 'request not understood'
    page.goto(server.url + '/nowhere')
    assert page.title() == 'Quick Tutorial: page not found'
    yield 'not found'


def test_every_page_passes_an_accessibility_audit(open_page, server,
                                                  axe_source):
    # the audit's script is injected, which the strict policy would block
    page = open_page(bypass_csp=True)
    found = {name: audit(page, axe_source)
             for name in each_page(page, server)}
    assert len(found) == 6
    assert found == {name: [] for name in found}


def test_every_page_has_a_description_for_search_engines(open_page,
                                                         server):
    # Lighthouse's SEO audit fails a page without one
    page = open_page()
    found = {name: page.locator('meta[name=description]').get_attribute(
        'content') for name in each_page(page, server)}
    assert all(description and len(description) > 10
               for description in found.values()), found
    assert found['not found'] == 'There is no page at this address.'


def test_no_page_logs_a_console_error_under_the_strict_policy(open_page,
                                                              server):
    page = open_page()
    errors = []

    def console(message):
        # Chromium logs an error page's own status; anything else counts
        # (a policy violation, a missing icon, a script error)
        own_status = (
            message.location.get('url') == page.url
            and message.text.startswith('Failed to load resource: the '
                                        'server responded with a status'))
        if message.type == 'error' and not own_status:
            errors.append((page.url, message.text))
    page.on('console', console)
    page.on('pageerror', lambda error: errors.append((page.url, str(error))))
    for name in each_page(page, server):
        # the icon's request, made by the page, has been answered
        page.wait_for_load_state('networkidle')
        assert errors == [], name
        if name == 'home':
            shot(page, 'audit-01-home-1280x800')


def test_the_home_page_is_usable_on_a_phone(open_page, server):
    page = open_page(**PHONE)
    page.goto(server.url + '/')
    assert count_on(page.inner_text('main')) == 1
    font = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('p'))"
        ".fontSize)")
    assert font >= 16
    button = page.get_by_role('button', name='Reset the counter')
    box = button.bounding_box()
    assert box['height'] >= 44 and box['width'] >= 44
    # laid out at the phone's width, not zoomed out from 980 px
    assert page.evaluate('document.documentElement.scrollWidth') <= 375
    assert page.evaluate('window.visualViewport.scale') == 1
    shot(page, 'audit-02-home-phone-375x667')


def test_screenshots_of_the_desktop_and_the_404_page(open_page, server):
    page = open_page(**DESKTOP)
    page.goto(server.url + '/')
    shot(page, 'audit-03-home-desktop-1280x800')
    response = page.goto(server.url + '/nowhere')
    assert response.status == 404
    assert page.get_by_role('main').is_visible()
    assert page.get_by_role('link', name='Go to the home page')
    shot(page, 'audit-04-not-found-1280x800')


class FramingPage(http.server.BaseHTTPRequestHandler):
    """Another site's page (another port) that frames the app."""

    target = None

    def do_GET(self):
        body = ('<!DOCTYPE html><html lang="en"><title>framing</title>'
                '<iframe src="%s/" width="600" height="400"></iframe>'
                % self.target).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_page_elsewhere_that_frames_the_app_is_shown_nothing(
        open_page, server):
    handler = type('Handler', (FramingPage,), {'target': server.url})
    framing = http.server.ThreadingHTTPServer(('127.0.0.1', free_port()),
                                              handler)
    thread = threading.Thread(target=framing.serve_forever)
    thread.start()
    try:
        page = open_page()
        # the visitor has a session with the app...
        page.goto(server.url + '/')
        page.goto('http://127.0.0.1:%d/' % framing.server_port)
        page.wait_for_load_state('networkidle')
        (frame,) = [f for f in page.frames if f != page.main_frame]
        # ...but the frame shows nothing of the app: Chromium's own error
        # page stands in its place
        assert 'Hi Home View' not in frame.content()
        assert frame.locator('form').count() == 0
        assert frame.url.startswith('chrome-error:')
        shot(page, 'audit-05-framed-by-another-site')
    finally:
        framing.shutdown()
        framing.server_close()
        thread.join()
