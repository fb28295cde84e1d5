"""The printed step itself, as the benchmark's baseline.

Its main(): SignedCookieSessionFactory with the step's secret, the two
routes and this project's own TutorialViews, rendering the step's template
(step_home.pt: home.pt as printed, without the form line). Nothing else.
Served by waitress as the step serves it: waitress-serve --call step:main
"""
import os

from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

HERE = os.path.dirname(os.path.abspath(__file__))


def main(global_config=None, **settings):
    my_session_factory = SignedCookieSessionFactory('itsaseekreet')
    config = Configurator(settings=settings,
                          session_factory=my_session_factory)
    config.include('pyramid_chameleon')
    config.add_route('home', '/')
    config.add_route('hello', '/howdy')
    config.scan('tutorial.views')
    # the views name 'home.pt' in the tutorial package: the step's copy
    config.override_asset('tutorial:home.pt',
                          os.path.join(HERE, 'step_home.pt'))
    return config.make_wsgi_app()
