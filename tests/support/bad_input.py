"""Requests that no page can read: the named cases the suites send, to
the app in process and to real servers over sockets."""


BAD_PATHS = ['/%ff', '/%C0%AF', '/reset%ff', '/howdy/%fe%ff', '/%80']
BAD_QUERIES = ['/?%ff=%fe', '/howdy?a=%ff', '/?a=%C0%AF', '/?%80']
BAD_FORMS = [
    ('multipart/form-data', b'csrf_token=x'),
    ('multipart/form-data; boundary=', b'--\r\n'),
    ('multipart/form-data; boundary=""', b'--\r\n'),
    ('application/x-www-form-urlencoded; charset=utf-16', b'a=b'),
    ('application/x-www-form-urlencoded; charset=utf-7', b'a=b'),
    ('application/x-www-form-urlencoded; charset=no-such-charset', b'a=b'),
]
STRAY_COOKIES = ['a=\\377', 'x_y="\\200"', 'b=\\300\\257', 'c="\\377\\376"',
                 # a quoted value across a semicolon, with a byte that is
                 # not UTF-8: a guard that split the header at every ";"
                 # would cut the value in two
                 'd="x;\xff"']
