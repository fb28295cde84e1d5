"""The same page and session in Flask, for comparison.

Flask's signed-cookie session holds the counter and a form token, a
Jinja2 template compiled once renders this project's page, and waitress
serves it as it serves the others: waitress-serve flask_app:app
"""
import os
import secrets

from flask import Flask, session

app = Flask(__name__)
app.secret_key = os.environ.get('BENCH_SECRET') or secrets.token_hex(32)
app.config.update(SESSION_COOKIE_SAMESITE='Lax')

PAGE = app.jinja_env.from_string('''<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Quick Tutorial: {{ name }}</title>
    <link rel="stylesheet" href="/static/tutorial.css">
    <link rel="icon" href="/favicon.ico">
</head>
<body>
<main>
<h1>Hi {{ name }}</h1>
<p>Count: {{ counter }}</p>
<form method="post" action="/reset">
  <input type="hidden" name="csrf_token" value="{{ token }}">
  <button type="submit">Reset the counter</button>
</form>
</main>
</body>
</html>
''')


def page(name):
    session['counter'] = session.get('counter', 0) + 1
    if 'csrf_token' not in session:
        session['csrf_token'] = secrets.token_hex(20)
    return PAGE.render(name=name, counter=session['counter'],
                       token=session['csrf_token'])


@app.route('/')
def home():
    return page('Home View')


@app.route('/howdy')
def hello():
    return page('Hello View')
