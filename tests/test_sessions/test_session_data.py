"""Session data the app did not write never breaks a page.

A signed cookie is held by the client, and the development secret is
public, so anyone can sign whatever JSON they like. Each case below sends
such a cookie: the page must answer 200, reset what it cannot use, keep
what it can, and set a cookie a browser will store.
"""
import pytest
from tutorial.sessions.data import MAX_COUNTER, clean_state

from tests.support.cookies import count_on, forge_cookie, session_in


def visit_with(testapp, cookie):
    testapp.set_cookie('session', cookie)
    page = testapp.get('/', status=200)
    set_cookie = page.headers['Set-Cookie']
    # browsers drop cookies over 4096 bytes, name and attributes included
    assert len(set_cookie.split(';')[0]) < 4096
    return page


def test_a_forged_cookie_is_read_like_a_real_one(testapp):
    # the control: the forging helper signs what the app itself would
    page = visit_with(testapp, forge_cookie({'counter': 41}))
    assert count_on(page.text) == 42


@pytest.mark.parametrize('counter', [
    '5', None, [1], {'n': 1}, 1.5, True, -1, MAX_COUNTER + 1, 10 ** 300,
], ids=lambda value: type(value).__name__ + ':' + repr(value)[:20])
def test_a_counter_the_app_cannot_use_starts_again(testapp, counter):
    page = visit_with(testapp, forge_cookie({'counter': counter}))
    assert count_on(page.text) == 1


@pytest.mark.parametrize('messages', [
    5, 'a string', {'a': 1}, [1, 2], [{'x': 1}], [None], ['x' * 5000],
    ['short'] * 1000,
], ids=['number', 'string', 'object', 'numbers', 'objects', 'null',
        'one-huge', 'many'])
def test_junk_in_the_flash_queue_is_dropped(testapp, messages):
    page = visit_with(testapp, forge_cookie({'counter': 7, '_f_': messages}))
    assert count_on(page.text) == 8
    assert len(page.html.find_all(attrs={'role': 'status'})) <= 3


@pytest.mark.parametrize('token', [5, [], None, 'zz', 'A' * 40, 'a' * 4000])
def test_a_bad_csrf_token_is_replaced_and_the_form_still_works(
        testapp, token):
    page = visit_with(testapp, forge_cookie({'counter': 3, '_csrft_': token}))
    assert count_on(page.text) == 4
    response = page.forms[0].submit(status=303)
    assert count_on(response.follow().text) == 1


def test_keys_from_older_versions_of_the_app_are_dropped(testapp):
    visit_with(testapp, forge_cookie({'counter': 9, 'cart': ['x' * 100] * 30}))
    assert session_in(testapp.cookies['session']) == {
        'counter': 10, '_csrft_': session_in(
            testapp.cookies['session'])['_csrft_']}


@pytest.mark.parametrize('payload', [
    b'5', b'"text"', b'null', b'{"counter": 5}', b'[1, 2]',
    b'[1, 2, "not a dict"]', b'[1, 2, [["counter", 5]]]',
    b'["a", "b", {"counter": 5}]', b'[1e999, 1, {"counter": 5}]',
    b'[NaN, 1, {"counter": 5}]', b'[true, true, {}]',
    b'[' * 100000, b'9' * 5000, b'\xff\xfe not utf-8', b'',
], ids=lambda value: repr(value)[:30])
def test_a_signed_cookie_that_is_not_a_session_starts_a_new_one(
        testapp, payload):
    page = visit_with(testapp, forge_cookie(payload))
    assert count_on(page.text) == 1


@pytest.mark.parametrize('cookie', [
    '', 'not base64 at all!', 'A' * 10000, 'e30', '%00%ff',
])
def test_a_cookie_that_is_not_signed_starts_a_new_session(testapp, cookie):
    page = visit_with(testapp, cookie)
    assert count_on(page.text) == 1


def test_a_session_that_timed_out_starts_again(testapp):
    # Pyramid's default timeout: 20 minutes without a visit
    old = 1_000_000_000
    visit_with(testapp, forge_cookie(b'[%d, %d, {"counter": 5}]' % (old, old)))
    assert session_in(testapp.cookies['session'])['counter'] == 1


def test_clean_state_keeps_what_the_app_wrote():
    state = {'counter': 12, '_f_': ['Saved.'], '_csrft_': 'ab' * 20}
    assert clean_state(dict(state)) == state
