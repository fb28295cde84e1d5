"""One reader for every setting: the environment over the ini file, then
a default, and one line naming the setting when a value cannot work."""
import pytest

from tutorial.config.settings import (
    bool_setting,
    choice_setting,
    environment_setting,
    host_and_port,
    int_setting,
    setting,
    )

from tests.support.cookies import PRODUCTION_SECRET
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


# Secrets from files, as Docker's official images read *_FILE (and as
# systemd hands credentials over): the content, less one trailing newline.
@pytest.mark.parametrize('content, expected', [
    ('s3cret\n', 's3cret'), ('s3cret', 's3cret'), ('a b\n\n', 'a b\n')])
def test_a_secret_comes_from_the_file_its_FILE_variable_names(
        tmp_path, content, expected):
    path = tmp_path / 'secret'
    path.write_text(content)
    environ = {'TUTORIAL_X_FILE': str(path)}
    assert environment_setting('TUTORIAL_X', environ) == expected
    assert environment_setting('TUTORIAL_X', {'TUTORIAL_X': 'v'}) == 'v'
    assert environment_setting('TUTORIAL_X', {}) == ''


def test_a_secret_and_its_file_both_set_are_refused_in_one_line(tmp_path):
    path = tmp_path / 'secret'
    path.write_text('from-the-file\n')
    with pytest.raises(SystemExit) as refusal:
        environment_setting('TUTORIAL_X', {
            'TUTORIAL_X': 'from-the-variable', 'TUTORIAL_X_FILE': str(path)})
    assert str(refusal.value) == ('tutorial: TUTORIAL_X and TUTORIAL_X_FILE '
                                  'are both set; set one of them')


@pytest.mark.parametrize('make', ['missing', 'folder', 'not utf-8'])
def test_a_secret_file_that_cannot_be_read_is_named_never_shown(
        tmp_path, make):
    path = tmp_path / 'secret'
    if make == 'folder':
        path.mkdir()
    elif make == 'not utf-8':
        path.write_bytes(b'\xff\xfe-hidden-secret')
    with pytest.raises(SystemExit) as refusal:
        environment_setting('TUTORIAL_X', {'TUTORIAL_X_FILE': str(path)})
    line = str(refusal.value)
    assert line.startswith('tutorial: TUTORIAL_X_FILE names %s, which '
                           'cannot be read (' % path)
    assert '\n' not in line and 'hidden' not in line


def test_the_session_secrets_and_the_redis_url_come_from_files(tmp_path):
    from tutorial.sessions.redis.topology import redis_url
    from tutorial.sessions.secrets import old_session_secrets, \
        session_secret

    new, old = PRODUCTION_SECRET, PRODUCTION_SECRET[::-1]
    files = {}
    for name, content in [('secret', new), ('old', old),
                          ('url', 'redis://:pass@redis:6379/1')]:
        files[name] = tmp_path / name
        files[name].write_text(content + '\n')
    environ = {'TUTORIAL_SESSION_SECRET_FILE': str(files['secret']),
               'TUTORIAL_SESSION_OLD_SECRETS_FILE': str(files['old']),
               'TUTORIAL_REDIS_URL_FILE': str(files['url'])}
    production = {'tutorial.secret_from_env': 'true'}
    assert session_secret(production, environ) == new
    assert old_session_secrets(production, environ) == [old]
    assert redis_url({'tutorial.redis_url': 'redis://ini/0'}, environ) \
        == 'redis://:pass@redis:6379/1'
