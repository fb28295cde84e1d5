"""Debian's Chromium, as the browser tests start it, and their
screenshots."""
import os

from .project import PROJECT

SCREENSHOTS = os.path.join(PROJECT, 'screenshots')


CHROMIUM_ARGS = [
    # look up no name but the local ones: this browser talks to no one else
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , '
    'EXCLUDE localhost',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
]


def shot(page, name):
    """Save what ``page`` shows as screenshots/NAME.png, for a person."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, name + '.png'))
