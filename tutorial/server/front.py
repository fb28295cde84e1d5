"""Beyond the step: nginx, the front that faces production's clients.

nginx reads each request whole, head and body, in its event loop before
a worker sees it, keeps HTTP/1.1's rules, and hands the request to the
uWSGI workers over a unix socket in the server's own folder. This module
finds nginx, raises the open-files limit it lives on, and writes its
configuration, with a page of the app's own for each answer nginx gives
itself.
"""
import logging
import os
import resource
import shutil

from ..operations.log_summary import LogSummary
from ..pages.errors import NOT_FOUND_PAGE, message_page

#: Where Debian (and most systems) put nginx, should PATH not name them.
SBIN = ('/usr/sbin', '/usr/local/sbin', '/sbin')
#: The most files a process opens when the hard limit is unlimited.
FILES_CEILING = 1 << 20
#: The seconds a client has to send a request's head, and then each part
#: of its body; and to take each part of an answer.
CLIENT_TIMEOUT = 10
#: How long an idle kept connection waits for its next request.
KEEPALIVE_TIMEOUT = 30
#: nginx's buffer for a request's head, beyond its first kilobyte: one
#: line, and the whole head, may fill it; a larger head gets the 431
#: page. What a worker is handed then fits in uWSGI's packet (64 kB,
#: however the head is made: the request line comes three times over, as
#: REQUEST_URI, PATH_INFO and QUERY_STRING, and an empty header "a:" of 4
#: bytes as 10).
HEADER_BUFFER = 16384
#: The most headers such a head holds (4 bytes each, at the least), and
#: so the most variables a worker may be handed, with the CGI ones.
MAX_VARS = (1024 + HEADER_BUFFER) // 4 + 64

#: How often a kind of fault is logged: the first at once, then one line
#: each this many seconds, saying how many it stands for.
FAULT_INTERVAL = 10

#: The pages nginx gives for what it answers itself, by status.
PAGES = {
    400: message_page(
        'bad request', 'This request could not be read',
        'It broke the rules of HTTP, so nothing was changed.'),
    431: message_page(
        'request too large', 'This request was too large',
        'Its head was larger than this site takes, so nothing was '
        'changed.'),
    408: message_page(
        'request timeout', 'This request came too slowly',
        'It did not arrive in time, so nothing was changed.'),
    413: message_page(
        'request too large', 'This request was too large',
        'It carried more than this site takes from a form, so nothing was '
        'changed.'),
    414: message_page(
        'address too long', 'This address was too long',
        'This site takes shorter ones, so nothing was changed.'),
    502: message_page(
        'unavailable', 'This page is not available just now',
        'The site is starting or restarting. Try again in a moment.'),
}
PAGES[504] = PAGES[503] = PAGES[502]
PAGES[404] = NOT_FOUND_PAGE


def find_nginx(path=None):
    """nginx's path, or None: PATH, then the system's sbin folders."""
    path = os.environ.get('PATH', '') if path is None else path
    return shutil.which('nginx', path=os.pathsep.join((path,) + SBIN))


def raise_open_files():
    """Raise this process's open-files limit from the soft to the hard one
    (nginx's children inherit it), and return it: a connection costs a
    file, so it bounds how many clients are held at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILES_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def listen_address(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def write_pages(folder, headers):
    """The pages of PAGES, each as ``<status>.html`` in ``folder``, and the
    ``add_header`` lines for the app's security headers (``headers``)."""
    os.makedirs(folder, exist_ok=True)
    for status, page in PAGES.items():
        with open(os.path.join(folder, '%d.html' % status), 'wb') as f:
            f.write(page)
    return ''.join('        add_header %s "%s" always;\n' % (
        name, value.replace('\\', '\\\\').replace('"', '\\"'))
        for name, value in headers)


CONFIG = '''\
# Written by tutorial/server/front.py for this run; nginx faces the clients.
pid {folder}/nginx.pid;
error_log stderr crit;
# One process, which holds every client: the kernel stops it when the
# runner goes (a master's workers would stay).
master_process off;
worker_rlimit_nofile {files};
events {{
    worker_connections {connections};
}}
http {{
    default_type application/octet-stream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server_tokens off;

    # One line for each request that failed: one a client left or sent
    # too slowly (400, 499, 408), one nginx refused (4xx, with no worker's
    # answer), one no worker answered (502, 504). The app logs its own.
    map "$status:$upstream_status" $tutorial_fault {{
        "~^(\\d+):\\1$" 0;
        "~^[45]" 1;
        default 0;
    }}
    log_format tutorial_fault '$status for "$request" from $remote_addr '
        '($request_length bytes read, $request_time s)';
    access_log /dev/stderr tutorial_fault if=$tutorial_fault;

    # The host a request names: the authority of an absolute form
    # (RFC 9112 3.2.2 puts it before the Host header), else its Host.
    map $request $tutorial_target_host {{
        "~*^[A-Z]+ [a-z][a-z0-9+.-]*://(?<authority>[^/?#@ ]+)" $authority;
        default "";
    }}
    map $tutorial_target_host $tutorial_host {{
        "" $http_host;
        default $tutorial_target_host;
    }}

    # The workers' socket, named twice: a request a worker died holding
    # goes to another worker, once, if it is one nginx may send again
    # (not a POST); never marked down, since the master replaces a worker
    # within a second.
    upstream tutorial_workers {{
        server unix:{folder}/workers.sock max_fails=0;
        server unix:{folder}/workers.sock max_fails=0;
    }}

    server {{
        listen {listen} backlog={backlog};

        # Slow clients wait here, never in a worker.
        client_header_timeout {timeout}s;
        client_body_timeout {timeout}s;
        send_timeout {timeout}s;
        keepalive_timeout {keepalive}s;
        keepalive_requests 10000;
        large_client_header_buffers 1 {header_buffer};
        client_max_body_size {max_body};
        client_body_buffer_size {max_body};

        # Every header, as the client sent it (PEP 3333): names with
        # underscores and bytes nginx calls invalid go on to the app.
        underscores_in_headers on;
        ignore_invalid_headers off;

        # (a version of HTTP nginx does not speak, 505, is the client's
        # fault: a 400 too)
        error_page 400 /.errors/400.html;
        error_page 505 =400 /.errors/400.html;
        error_page 494 =431 /.errors/431.html;
        error_page 408 /.errors/408.html;
        error_page 413 /.errors/413.html;
        error_page 414 /.errors/414.html;
        error_page 502 503 504 /.errors/502.html;
        # (the pages' own folder, asked for by name, is not there)
        error_page 404 /.errors/404.html;
        location /.errors/ {{
            internal;
            root {folder};
            charset utf-8;
            types {{ text/html html; }}
            add_header Cache-Control "no-store" always;
{headers}        }}

        location / {{
            uwsgi_pass tutorial_workers;
            # The whole request is read before a worker sees it; the
            # whole answer is taken from the worker at once.
            uwsgi_request_buffering on;
            uwsgi_buffering on;
            uwsgi_read_timeout 60s;
            uwsgi_next_upstream error;
            uwsgi_next_upstream_tries 2;
            uwsgi_param SCRIPT_NAME "";
            uwsgi_param QUERY_STRING $query_string;
            uwsgi_param REQUEST_METHOD $request_method;
            uwsgi_param CONTENT_TYPE $content_type;
            uwsgi_param CONTENT_LENGTH $content_length;
            uwsgi_param REQUEST_URI $request_uri;
            uwsgi_param PATH_INFO $document_uri;
            uwsgi_param SERVER_PROTOCOL $server_protocol;
            uwsgi_param REQUEST_SCHEME $scheme;
            uwsgi_param REMOTE_ADDR $remote_addr;
            uwsgi_param REMOTE_PORT $remote_port;
            uwsgi_param SERVER_PORT $server_port;
            uwsgi_param SERVER_NAME {server_name};
            uwsgi_param HTTP_HOST $tutorial_host if_not_empty;
            # every Cookie header, joined with "; " (each on its own, a
            # worker would keep the last alone)
            uwsgi_param HTTP_COOKIE $http_cookie if_not_empty;
{server_header}        }}
    }}
}}
'''


def nginx_config(folder, options, files, max_body, headers):
    """nginx's configuration: ``options`` are the runner's ([server:main]
    read), ``files`` the open-files limit, ``max_body`` the largest body
    the app takes, ``headers`` its security headers."""
    host = options['host']
    return CONFIG.format(
        folder=folder, files=files,
        # a client costs one file, and its request a second while a
        # worker answers it
        connections=max(files // 2, 512),
        listen=listen_address(host, options['port']),
        backlog=options['backlog'], timeout=CLIENT_TIMEOUT,
        keepalive=KEEPALIVE_TIMEOUT, header_buffer=HEADER_BUFFER,
        max_body=max_body, server_name=host.strip('[]') or 'localhost',
        headers=write_pages(os.path.join(folder, '.errors'), headers),
        # the app's Server header, where [server:main] names one, instead
        # of nginx's own
        server_header='            uwsgi_pass_header Server;\n'
        if options['ident'] else '')


class NginxLines:
    """What nginx says, read for the runner: a fault line (the access log
    above) is logged at once, then once each FAULT_INTERVAL seconds for
    each status, with how many it stands for; nginx's own lines are
    warnings."""

    def __init__(self, clock=None):
        self.faults = LogSummary(FAULT_INTERVAL, **(
            {'clock': clock} if clock else {}))

    def __call__(self, line):
        """The level to log ``line`` at (None: held), and the line."""
        status = line[:3]
        if not (status.isdigit() and line[3:9] == ' for "'):
            return logging.WARNING, line
        due = self.faults.due(status)
        if due is None:
            return None, line
        count = due[0]
        if count > 1:
            line = '%s (and %d more such in %d s)' % (
                line, count - 1, FAULT_INTERVAL)
        return logging.WARNING, line
