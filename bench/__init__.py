"""The benchmark: commands run from the project's folder as modules
(``python -m bench.run``), so that they import the project and the test
suites' helpers as they are, with no path of their own.

- run.py: the app table, this project beside the printed step, Flask and
  a bare callable, all on waitress; in process, each app's own cost;
- production.py: the production table, production's server beside the
  others (``bench.run --production`` runs it);
- restarts.py: what a SIGHUP restart of the workers costs;
- common.py: what they share; apps/: the apps they compare.
"""
