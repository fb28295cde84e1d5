"""The tutorial's steps 7 and 8, in a real browser against a real pserve.

Headless Chromium (Debian's, driven by Playwright) visits `pserve
development.ini` on 127.0.0.1. Each state is saved as a screenshot under
screenshots/ (git-ignored) for a person to look at.
"""
import os
import re
import time

import pytest

from tutorial.pages.flash import RESET_MESSAGE

from tests.support.browser import shot
from tests.support.cookies import count_on
from tests.support.project import PROJECT
from tests.support.servers import Server


@pytest.fixture
def server():
    with Server('development.ini') as server:
        yield server


def count_in(page):
    return count_on(page.inner_text('body'))


def test_counter_rises_is_shared_and_survives_a_restart(page, server):
    page.goto(server.url + '/')
    assert page.title() == 'Quick Tutorial: Home View'
    assert count_in(page) == 1
    shot(page, '01-home-first-visit')

    page.reload()
    assert count_in(page) == 2
    shot(page, '02-home-reloaded')

    page.goto(server.url + '/howdy')
    assert page.title() == 'Quick Tutorial: Hello View'
    assert count_in(page) == 3
    shot(page, '03-howdy-shares-the-count')

    # step 8: restart the application and revisit the page
    server.stop()
    with Server('development.ini', port=server.port) as restarted:
        page.goto(restarted.url + '/')
        assert count_in(page) == 4
        shot(page, '04-home-after-restart')


def test_session_cookie_is_invisible_to_page_scripts(page, server):
    page.goto(server.url + '/')
    (cookie,) = [c for c in page.context.cookies() if c['name'] == 'session']
    assert cookie['httpOnly'] is True
    assert cookie['sameSite'] == 'Lax'
    assert 'session=' not in page.evaluate('document.cookie')


def test_reset_form_shows_its_message_once(page, server):
    page.goto(server.url + '/howdy')
    page.reload()
    assert count_in(page) == 2

    page.get_by_role('button', name='Reset the counter').click()
    page.wait_for_url(server.url + '/')
    status = page.get_by_role('status')
    assert status.inner_text() == RESET_MESSAGE
    assert status.is_visible()
    assert count_in(page) == 1
    shot(page, '05-reset-message-shown')

    page.reload()
    assert page.get_by_role('status').count() == 0
    assert count_in(page) == 2
    shot(page, '06-reset-message-gone')


def test_a_form_without_the_token_gets_a_readable_refusal(page, server):
    page.goto(server.url + '/')
    page.evaluate(
        "document.querySelector('input[name=csrf_token]').value = 'forged'")
    page.get_by_role('button', name='Reset the counter').click()
    page.wait_for_load_state()
    assert page.title() == 'Quick Tutorial: form refused'
    assert 'nothing was changed' in page.inner_text('body')
    shot(page, '07-form-refused')

    page.goto(server.url + '/')
    assert count_in(page) == 2


def touch_until_reloaded(server, path, timeout=60):
    """Touch ``path`` until `pserve --reload` restarts, then wait for it.

    The reloader (hupper) learns which files to watch a moment after the
    app starts, and looks at them once a second. A touch before it knows
    the file is missed, so touch again, but only once the previous touch
    has had three of its looks (a touch during a restart would start a
    second one). The restart is over once the new server listens.
    """
    deadline = time.monotonic() + timeout
    while 'changed; reloading' not in server.output():
        assert time.monotonic() < deadline, server.output()
        os.utime(path)
        seen = time.monotonic() + 3
        while time.monotonic() < seen \
                and 'changed; reloading' not in server.output():
            time.sleep(0.1)
    while server.output().count('Serving on') < 2:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    server.wait_until_serving()


def test_reload_restarts_on_a_source_change_and_the_count_goes_on(page):
    with Server('development.ini', args=['--reload']) as server:
        page.goto(server.url + '/')
        page.reload()
        assert count_in(page) == 2

        touch_until_reloaded(server, os.path.join(PROJECT, 'tutorial',
                                                  'views.py'))
        assert server.output().count('changed; reloading') == 1
        assert re.search(r'views\.py changed; reloading', server.output())

        page.goto(server.url + '/howdy')
        assert count_in(page) == 3
        shot(page, '08-after-reload-on-change')
