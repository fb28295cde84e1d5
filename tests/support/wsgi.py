"""One request straight to a WSGI app, with no server between."""
import io


def wsgi_request(app, method, path, cookie=None, body=b''):
    """One request straight to the WSGI app: its status, the session
    cookie it leaves the visitor with, and its body."""
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'HTTP_HOST': 'localhost',
        'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(body),
    }
    if method == 'POST':
        # a form, as a browser posts it; its GETs carry no body
        environ['CONTENT_LENGTH'] = str(len(body))
        environ['CONTENT_TYPE'] = 'application/x-www-form-urlencoded'
    if cookie:
        environ['HTTP_COOKIE'] = cookie
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer['status'] = status
        answer['cookie'] = dict(headers).get('Set-Cookie', '').split(';')[0]
    chunks = app(environ, start_response)
    try:
        body = b''.join(chunks)
    finally:
        getattr(chunks, 'close', lambda: None)()
    return answer['status'], answer['cookie'] or cookie, body
