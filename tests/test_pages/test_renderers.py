"""Each template's renderer is found once (tutorial/pages/renderers.py),
and a template edited under ``pyramid.reload_templates`` still shows."""
import os

from pyramid.config import Configurator
from pyramid.interfaces import IRendererFactory
from webtest import TestApp

from tutorial import main
from tutorial.pages.renderers import KeptRenderers


class Info:
    """What Pyramid hands a renderer factory, as far as it is read."""

    def __init__(self, name, package=None, **settings):
        self.name = name
        self.package = package
        self.settings = settings


class CountingFactory:
    def __init__(self):
        self.asked = []

    def __call__(self, info):
        self.asked.append(info.name)
        return object()


def test_the_factory_behind_is_asked_once_a_template():
    behind = CountingFactory()
    kept = KeptRenderers(behind)
    home = [kept(Info('home.pt')) for _ in range(3)]
    message = kept(Info('message.pt'))
    assert behind.asked == ['home.pt', 'message.pt']
    assert home[0] is home[1] is home[2] and message is not home[0]
    # the same name in another package is another template
    kept(Info('home.pt', package=os))
    assert behind.asked == ['home.pt', 'message.pt', 'home.pt']


def test_nothing_is_kept_while_assets_are_reloaded():
    behind = CountingFactory()
    kept = KeptRenderers(behind)
    for _ in range(3):
        kept(Info('home.pt', reload_assets=True))
    assert behind.asked == ['home.pt'] * 3


def test_the_app_finds_its_pages_templates_once():
    app = main({})
    factory = app.registry.queryUtility(IRendererFactory, name='.pt')
    assert isinstance(factory, KeptRenderers)
    visitor = TestApp(app)
    for _ in range(3):
        assert 'Count:' in visitor.get('/').text
        visitor.get('/howdy')
    # the form refused, without its token: message.pt
    assert 'could not be accepted' in visitor.post('/reset', status=400).text
    names = sorted(name for name, package in factory.renderers)
    assert names == ['home.pt', 'message.pt']


def page(text):
    return 'Hello, ${name}. ' + text


def test_an_edited_template_shows_while_templates_are_reloaded(tmp_path):
    template = tmp_path / 'page.pt'
    template.write_text('<p>%s</p>' % page('first'))
    config = Configurator(settings={'pyramid.reload_templates': 'true'})
    config.include('pyramid_chameleon')
    config.include('tutorial.pages.renderers')
    config.add_route('page', '/')
    config.add_view(lambda request: {'name': 'learner'}, route_name='page',
                    renderer=str(template))
    visitor = TestApp(config.make_wsgi_app())
    assert 'first' in visitor.get('/').text
    template.write_text('<p>%s</p>' % page('second'))
    # a later modification time, whatever the file system's resolution
    later = os.stat(template).st_mtime + 10
    os.utime(template, (later, later))
    assert 'Hello, learner. second' in visitor.get('/').text
