"""production.ini's app, for servers that are not pserve (the designs
bench/production.py weighs): built as pserve builds it, from the ini
file."""
import os

from pyramid.paster import get_app

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

app = get_app(os.path.join(PROJECT, 'production.ini'), 'main')
