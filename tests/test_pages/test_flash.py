"""The flash message the tutorial describes, built over a CSRF-safe form."""
import re

import pytest
from pyramid import testing

from tutorial.pages.flash import (
    MAX_FLASH_MESSAGES,
    RESET_MESSAGE,
    flash,
    )

from tests.support.cookies import count_on, forge_cookie, session_in


def csrf_token_on(page):
    return page.forms[0]['csrf_token'].value


def flash_messages_on(page):
    return [p.text for p in page.html.find_all(attrs={'role': 'status'})]


def test_page_offers_the_reset_form_with_the_session_token(testapp):
    page = testapp.get('/')
    form = page.forms[0]
    assert form.method.upper() == 'POST'
    assert form.action.endswith('/reset')
    assert re.fullmatch(r'[0-9a-f]{40}', csrf_token_on(page))
    # the token is the session's: the same on the next page
    assert csrf_token_on(testapp.get('/howdy')) == csrf_token_on(page)


def test_each_visitor_gets_a_form_with_their_own_token(testapp, app):
    import webtest

    other = webtest.TestApp(app)
    tokens = [csrf_token_on(client.get(path))
              for client in (testapp, other, testapp, other)
              for path in ('/', '/howdy')]
    assert tokens[0] == tokens[1] == tokens[4] == tokens[5]
    assert tokens[2] == tokens[3] == tokens[6] == tokens[7]
    assert tokens[0] != tokens[2]
    for client, token in ((testapp, tokens[0]), (other, tokens[2])):
        assert client.post('/reset', {'csrf_token': token}).status_int == 303


def test_reset_redirects_then_shows_its_message_once(testapp):
    testapp.get('/')
    page = testapp.get('/howdy')
    assert count_on(page.text) == 2

    # a successful POST answers with a redirect (POST, redirect, GET)
    response = page.forms[0].submit()
    assert response.status_int == 303
    assert response.location == 'http://localhost/'

    # the page after the redirect shows the message, set apart...
    after = response.follow()
    assert flash_messages_on(after) == [RESET_MESSAGE]
    assert count_on(after.text) == 1
    # ...and the next page no longer does
    again = testapp.get('/howdy')
    assert flash_messages_on(again) == []
    assert count_on(again.text) == 2


def test_reset_starts_a_new_session_with_a_new_token(testapp):
    page = testapp.get('/')
    old_token = csrf_token_on(page)
    after = page.forms[0].submit().follow()
    assert csrf_token_on(after) != old_token
    # the old page's form is now refused: its token died with the session
    assert testapp.post('/reset', {'csrf_token': old_token},
                        status=400).status_int == 400


def test_flash_messages_are_escaped(testapp):
    testapp.set_cookie('session', forge_cookie(
        {'_f_': ['<script>alert(1)</script>']}))
    page = testapp.get('/')
    assert '<script>alert(1)</script>' not in page.text
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page.text


def test_posts_whose_redirects_are_never_followed_do_not_grow_the_session(
        testapp):
    # Replay the reset twenty times and never load the page it redirects
    # to. Each reset starts a session without a token until a page is
    # shown, so the test puts one in, signed with the development secret.
    token = 'a' * 40
    state = {'counter': 5}
    sizes = []
    for _ in range(20):
        state['_csrft_'] = token
        testapp.reset()  # forget the cookie, keep only the forged one
        testapp.set_cookie('session', forge_cookie(state))
        testapp.post('/reset', {'csrf_token': token}, status=303)
        state = session_in(testapp.cookies['session'])
        sizes.append(len(testapp.cookies['session']))
    assert state == {'_f_': [RESET_MESSAGE]}
    assert max(sizes) < 512
    # the message queued twenty times is shown once
    assert flash_messages_on(testapp.get('/')) == [RESET_MESSAGE]


def test_flash_queue_keeps_only_the_newest_messages():
    request = testing.DummyRequest()
    for n in range(10):
        flash(request, 'message %d' % n)
    expected = ['message %d' % n for n in range(10 - MAX_FLASH_MESSAGES, 10)]
    assert request.session.pop_flash() == expected


def test_the_same_message_is_queued_once():
    request = testing.DummyRequest()
    flash(request, 'saved')
    flash(request, 'saved')
    assert request.session.pop_flash() == ['saved']


@pytest.mark.parametrize('fields', [
    {},
    {'csrf_token': ''},
    {'csrf_token': 'not-the-token'},
    {'csrf_token': 'f' * 40},
], ids=['missing', 'empty', 'wrong', 'another-sessions'])
def test_post_without_the_session_token_is_refused_and_changes_nothing(
        testapp, fields):
    testapp.get('/')
    testapp.get('/')
    response = testapp.post('/reset', fields, status=400)
    # a short page for a person, not a traceback
    assert response.content_type == 'text/html'
    assert 'This form could not be accepted' in response.text
    assert 'Traceback' not in response.text
    assert flash_messages_on(testapp.get('/howdy')) == []
    # the count went on from 2, as though the POST had never been made
    assert count_on(testapp.get('/').text) == 4


def test_reset_is_only_a_post(testapp):
    testapp.get('/reset', status=404)
