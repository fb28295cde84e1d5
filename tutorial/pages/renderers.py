"""Beyond the step: each page's template found once, not on every request.

Pyramid makes a rendered view's renderer anew for every request it
answers (``RendererHelper.clone()``), and asks the renderer factory for
it again; pyramid_chameleon then turns the template's name ('home.pt')
into its asset spec, with a few path operations and two registry
lookups, before it finds the template it keeps: about 4 per cent of
what the step's whole request costs (bench/README.txt), to get the same
template every time.

The factory here keeps what the factory behind it returned, by the name
and package it was asked for, which are all pyramid_chameleon looks at.
It keeps nothing when ``pyramid.reload_assets`` is on, as
pyramid_chameleon does not; ``pyramid.reload_templates`` works as
before, since the template itself looks at its file.
"""
import threading

from pyramid.interfaces import IRendererFactory

#: The templates whose renderers are kept.
TEMPLATE_EXTENSIONS = ('.pt',)


class KeptRenderers:
    """A renderer factory that asks ``factory`` once a template."""

    def __init__(self, factory):
        self.factory = factory
        self.renderers = {}
        self.lock = threading.Lock()

    def __call__(self, info):
        key = (info.name, info.package)
        renderer = self.renderers.get(key)
        if renderer is None:
            renderer = self.factory(info)
            if not info.settings.get('reload_assets'):
                with self.lock:
                    renderer = self.renderers.setdefault(key, renderer)
        return renderer


def includeme(config):
    # the factories included so far (pyramid_chameleon's), once they are in
    config.commit()
    for extension in TEMPLATE_EXTENSIONS:
        factory = config.registry.queryUtility(IRendererFactory,
                                               name=extension)
        if factory is not None:
            config.add_renderer(extension, KeptRenderers(factory))
