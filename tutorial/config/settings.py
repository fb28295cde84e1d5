"""One reader for the app's settings: the environment, then the ini file,
then a default.

Every module asks it, so that a setting reads the same way everywhere and
a value that cannot work stops the app with one line naming the setting,
as ``tutorial: NAME is VALUE; it must be ...``.
"""
import os

TRUE = ('true', 'yes', 'on', '1', 't', 'y')
FALSE = ('false', 'no', 'off', '0', 'f', 'n')


def refuse(message, *args):
    """Stop the app with one line, ``tutorial: `` and ``message``."""
    raise SystemExit('tutorial: ' + (message % args if args else message))


def host_and_port(text):
    """(host, port) from ``HOST:PORT`` or ``[IPv6]:PORT``, or None if
    ``text`` is not one."""
    host, _, port = text.strip().rpartition(':')
    if not (host and port.isascii() and port.isdigit()
            and 0 < int(port) < 65536):
        return None
    return host.strip('[]'), int(port)


#: Where the server listens, over [server:main]'s ``listen`` (a container
#: listens on all interfaces, behind its network); the health check asks
#: the same port (tutorial/operations/check.py).
LISTEN_ENV = 'TUTORIAL_LISTEN'
#: [server:main]'s ``listen`` when nothing names it.
DEFAULT_LISTEN = '127.0.0.1:6543'


def setting_name(name, env=None):
    """How a message names a setting that the environment may also set."""
    return '%s (or %s)' % (name, env) if env else name


def setting(settings, name, env=None, default='', environ=os.environ):
    """The environment variable ``env``'s value if it is set and not
    empty, else the ini file's ``name``, else ``default``."""
    value = environ.get(env) if env else None
    if not value:
        value = settings.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return value.strip() if isinstance(value, str) else value


def words_setting(settings, name, env=None, default='', environ=os.environ):
    """The ini file's whitespace-separated words for ``name`` (``default``'s
    where it does not name it; none where it names it empty), and then
    the environment variable ``env``'s, which add to them."""
    words = settings.get(name, default).split()
    return words + (environ.get(env, '') if env else '').split()


def environment_setting(env, environ=os.environ):
    """A value that comes from the environment alone, never from an ini
    file (which is committed): production's secrets. As Docker's official
    images read theirs, ``env`` or a file that ``env``_FILE names (its
    content, less the trailing newline); '' where neither is set. Both
    set, or a file that cannot be read, stops the app in one line that
    names the path and never the content."""
    value = environ.get(env, '')
    path = environ.get(env + '_FILE', '')
    if value and path:
        refuse('%s and %s_FILE are both set; set one of them', env, env)
    if not path:
        return value
    try:
        with open(path, encoding='utf-8') as f:
            content = f.read()
    except (OSError, UnicodeDecodeError) as error:
        refuse('%s_FILE names %s, which cannot be read (%s)', env, path,
               getattr(error, 'strerror', None) or 'not UTF-8 text')
    return content[:-1] if content.endswith('\n') else content


def int_setting(settings, name, env=None, default=None, minimum=0,
                unit='', environ=os.environ):
    """A whole number of at least ``minimum``, or None where nothing sets
    it and there is no default."""
    value = setting(settings, name, env, default, environ)
    if value is None or isinstance(value, int):
        return value
    if not (value.isascii() and value.isdigit()
            and int(value) >= minimum):
        refuse('%s is %r; it must be a whole number%s of %d or more',
               setting_name(name, env), value,
               ' of ' + unit if unit else '', minimum)
    return int(value)


def bool_setting(settings, name, env=None, default=False,
                 environ=os.environ):
    """true/yes/on/1 or false/no/off/0; anything else is refused, rather
    than read as false (Pyramid's asbool would)."""
    value = setting(settings, name, env, default, environ)
    if isinstance(value, bool):
        return value
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    refuse('%s is %r; it must be true or false', setting_name(name, env),
           value)


def choice_setting(settings, name, choices, env=None, default=None,
                   environ=os.environ):
    """One of ``choices``; anything else is refused, naming them."""
    value = setting(settings, name, env, default, environ)
    if value not in choices:
        refuse('%s is %r; it must be one of: %s', setting_name(name, env),
               value, ', '.join(choices))
    return value
