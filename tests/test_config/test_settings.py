"""One reader for every setting: the environment over the ini file, then
a default, and one line naming the setting when a value cannot work."""
import pytest

from tutorial.config.settings import (
    bool_setting,
    choice_setting,
    host_and_port,
    int_setting,
    setting,
    )

from tests.support.servers import Server


# the environment wins over the ini file, which wins over the default;
# an empty value counts as unset
@pytest.mark.parametrize('environ, settings, expected', [
    ({'TUTORIAL_X': 'env'}, {'tutorial.x': 'ini'}, 'env'),
    ({}, {'tutorial.x': 'ini'}, 'ini'),
    ({'TUTORIAL_X': ''}, {'tutorial.x': 'ini'}, 'ini'),
    ({}, {'tutorial.x': '  '}, 'default'),
    ({}, {}, 'default'),
])
def test_the_environment_then_the_ini_file_then_the_default(
        environ, settings, expected):
    assert setting(settings, 'tutorial.x', 'TUTORIAL_X', 'default',
                   environ) == expected


@pytest.mark.parametrize('value, expected', [
    ('0', 0), ('60', 60), (' 7 ', 7), (None, 5)])
def test_whole_numbers_are_read(value, expected):
    settings = {} if value is None else {'tutorial.n': value}
    assert int_setting(settings, 'tutorial.n', default=5) == expected


@pytest.mark.parametrize('value', ['often', '-1', '1.5', '0x10', '²'])
def test_anything_but_a_whole_number_is_refused_in_one_line(value):
    with pytest.raises(SystemExit) as refusal:
        int_setting({}, 'tutorial.n', 'TUTORIAL_N', environ={
            'TUTORIAL_N': value})
    message = str(refusal.value.code)
    assert message.startswith('tutorial: tutorial.n (or TUTORIAL_N) is ')
    assert '\n' not in message


def test_a_minimum_is_kept():
    with pytest.raises(SystemExit) as refusal:
        int_setting({'tutorial.n': '0'}, 'tutorial.n', minimum=1,
                    unit='seconds')
    assert str(refusal.value.code) == (
        "tutorial: tutorial.n is '0'; it must be a whole number of seconds "
        "of 1 or more")


@pytest.mark.parametrize('value, expected', [
    ('true', True), ('Yes', True), ('on', True), ('1', True),
    ('false', False), ('NO', False), ('off', False), ('0', False)])
def test_booleans_are_read(value, expected):
    assert bool_setting({'tutorial.b': value}, 'tutorial.b') is expected


def test_a_boolean_that_is_neither_is_refused_rather_than_read_as_false():
    # Pyramid's asbool would read 'ture' as false, silently
    with pytest.raises(SystemExit) as refusal:
        bool_setting({'tutorial.secure_cookie': 'ture'},
                     'tutorial.secure_cookie')
    assert str(refusal.value.code) == (
        "tutorial: tutorial.secure_cookie is 'ture'; it must be true or "
        "false")


def test_a_choice_names_the_choices():
    with pytest.raises(SystemExit) as refusal:
        choice_setting({'tutorial.c': 'd'}, 'tutorial.c', ['a', 'b'])
    assert str(refusal.value.code) == (
        "tutorial: tutorial.c is 'd'; it must be one of: a, b")


def test_no_setting_of_the_developers_shell_reaches_a_test_server(
        monkeypatch):
    # a developer who has the Redis topology exported would otherwise
    # send every server the tests start to it
    for name in ('TUTORIAL_REDIS_SENTINELS', 'TUTORIAL_REDIS_SERVICE',
                 'TUTORIAL_REDIS_CLUSTER', 'TUTORIAL_WORKERS',
                 'TUTORIAL_ANYTHING_NEW'):
        monkeypatch.setenv(name, 'from the shell')
    server = Server('production.ini', env={'TUTORIAL_WORKERS': '1'})
    try:
        assert [name for name in server.env
                if name.startswith('TUTORIAL_')] == ['TUTORIAL_WORKERS']
        assert server.env['TUTORIAL_WORKERS'] == '1'
    finally:
        server.__exit__(None, None, None)


# host:port, as [server:main]'s listen and the sentinels name them
@pytest.mark.parametrize('text, expected', [
    ('127.0.0.1:6543', ('127.0.0.1', 6543)),
    ('[::1]:26379', ('::1', 26379)),
    (' localhost:80 ', ('localhost', 80)),
    ('localhost', None), (':6543', None), ('host:0', None),
    ('host:65536', None), ('host:port', None), ('host:²', None),
])
def test_host_and_port_are_read_or_refused(text, expected):
    assert host_and_port(text) == expected
