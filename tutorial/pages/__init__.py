"""Beyond the step: what the visitor sees besides the two pages: the
"Reset the counter" form and its flash message, the app's look, and its
own short pages for errors."""


def includeme(config):
    config.include('.flash')
    config.include('.errors')
    config.include('.static_files')
    config.include('.renderers')
