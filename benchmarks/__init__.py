"""zrun's benchmark suite; ``python benchmarks/run.py --help`` (see ``run.py``).

- ``run.py``: the command line; builds everything, runs a session per interpreter, writes the report;
- ``places.py``: where an interpreter lives (this machine, or the Debian-sid chroot: ``sid:PATH``);
- ``peers.py``: the venvs and apps of each place (a clean venv per interpreter, shiv, pex, runner.pyz);
- ``session.py``: one interpreter's measurements, run by that interpreter where it lives, JSON out;
- ``zipwriter.py``: the streaming writer of the scaling archives (up to 1,000,000 entries);
- ``fixtures.py``: the archives and apps, made from the real modules in ``payload/``;
- ``cases.py``: the commands of each case, for one interpreter;
- ``measure.py``: whole-process timing and peak RSS, alternated rounds, medians;
- ``results.py``, ``targets.py``, ``report.py``, ``scaling.py``: ratios, the issue's targets, the Markdown, the scaling tables;
- ``plot.py``: the PNG, drawn by the throwaway venv that has matplotlib;
- ``launchers/``: small programs run as children (``runpy.run_module``, interpreter details).
"""
