"""The benchmark's figures, drawn as it measures them: one SVG a table,
a bar a row, with matplotlib (in the ``dev`` and ``bench`` extras)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
#: Where the commands write their charts.
FIGURES = os.path.join(HERE, 'figures')


def value_text(value):
    """A bar's figure as the tables print it."""
    return '%.0f' % value if value >= 100 else '%.1f' % value \
        if value >= 10 else '%.2f' % value


def write_chart(name, title, unit, rows, folder=None):
    """Draw ``rows`` ((label, value) pairs, in the table's order) as
    horizontal bars, in ``folder`` (FIGURES unless named)/``name``.svg;
    return its path."""
    import matplotlib

    matplotlib.use('Agg')  # no screen: straight to a file
    from matplotlib import pyplot

    labels = [label for label, value in rows]
    values = [value for label, value in rows]
    # text stays text in the SVG (not paths), so that it can be read,
    # searched, and checked
    with matplotlib.rc_context({'svg.fonttype': 'none',
                                'svg.hashsalt': 'tutorial'}):
        figure, axes = pyplot.subplots(figsize=(9, 1 + 0.45 * len(rows)))
        bars = axes.barh(range(len(rows)), values, color='#4a6fa5')
        axes.set_yticks(range(len(rows)), labels)
        axes.invert_yaxis()  # the table reads downwards
        axes.bar_label(bars, labels=[value_text(v) for v in values],
                       padding=3)
        axes.set_title(title)
        axes.set_xlabel(unit)
        axes.margins(x=0.15)
        for side in ('top', 'right'):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        folder = folder or FIGURES
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name + '.svg')
        figure.savefig(path, format='svg', metadata={'Date': None})
        pyplot.close(figure)
    return path
