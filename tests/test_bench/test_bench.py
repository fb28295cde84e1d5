"""The benchmark's own parts run: each app's cost in process, the charts
drawn from what was measured, and the profile written. Timing is not
asserted: bench/README.txt reports the figures."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from bench.apps import flask_app, step
from bench.chart import value_text, write_chart
from bench.common import project_app
from bench.run import app_charts, in_process_costs
from tutorial.sessions.secrets import SECRET_ENV

from tests.support.project import PROJECT


def svg_text(path):
    """Every piece of text an SVG shows; and it must parse as XML."""
    tree = ElementTree.parse(path)
    return [t for element in tree.iter() for t in (element.text,) if t]


def test_a_chart_names_each_row_and_shows_its_value(tmp_path):
    rows = [('waitress', 1101.0), ('uwsgi 2', 2434.0),
            ('hypercorn', 1201.0)]
    path = write_chart('servers', 'req/s', 'requests a second', rows,
                       folder=str(tmp_path))
    text = svg_text(path)
    for label, value in rows:
        assert label in text
        assert value_text(value) in text


def test_the_in_process_costs_are_measured_and_drawn(tmp_path,
                                                     monkeypatch):
    # a few calls of each app, as bench/run.py makes them, then its chart
    import bench.run

    monkeypatch.setattr(bench.run, 'IN_PROCESS_ROUNDS', 2)
    monkeypatch.setattr(bench.run, 'IN_PROCESS_CALLS', 20)
    monkeypatch.setattr('bench.chart.FIGURES', str(tmp_path))
    apps = {'step': step.main(),
            'project': project_app({SECRET_ENV: os.urandom(32).hex()}),
            'flask': flask_app.app}
    costs = in_process_costs(apps)
    assert set(costs) == {(name, visitor) for name in apps
                          for visitor in ('first', 'returning')}
    assert all(cost > 0 for cost in costs.values())
    (path,) = app_charts(costs)
    assert os.path.dirname(path) == str(tmp_path)
    text = svg_text(path)
    for label in ('printed step', 'this project', 'Flask 3'):
        assert label in text


def test_the_profile_is_written_for_the_project_and_the_step(tmp_path):
    done = subprocess.run(
        [sys.executable, '-m', 'bench.profile', '--calls', '200',
         '--folder', str(tmp_path)], cwd=PROJECT, capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ('project', 'step'):
        with open(tmp_path / (name + '.html')) as f:
            assert '<html' in f.read(200).lower()
        with open(tmp_path / (name + '.txt')) as f:
            tree = f.read()
        # the tree reaches the step's own counter
        assert 'TutorialViews.counter' in tree


def test_the_observations_are_timed_in_both_modes():
    done = subprocess.run(
        [sys.executable, '-m', 'bench.observations', '--rounds', '1'],
        cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines()[1:]:
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and parts[1][0].isdigit():
            rows[parts[0].strip()] = (float(parts[1]), float(parts[2]))
    assert set(rows) == {'step request', 'duration observed',
                         'largest cookie looked at', 'session begun counted',
                         'nothing (the loop)'}
    assert all(one > 0 and multi > 0 for one, multi in rows.values())
    for mode in ('one process', 'multiprocess'):
        assert "%s: a page's observation" % mode in done.stdout
