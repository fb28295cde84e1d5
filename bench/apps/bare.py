"""The server's own ceiling: a bare WSGI callable on the same waitress.

It answers every request with an HTML page of BENCH_PAGE_SIZE bytes (the
size of the tutorial's page), with no framework, session or template.
"""
import os

PAGE = b'<!DOCTYPE html>' + b'x' * (int(os.environ['BENCH_PAGE_SIZE']) - 15)


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/html; charset=UTF-8'),
                              ('Content-Length', str(len(PAGE)))])
    return [PAGE]
