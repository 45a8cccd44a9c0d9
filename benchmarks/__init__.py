"""zrun's benchmark suite; ``python benchmarks/run.py --help`` (see ``run.py``).

- ``run.py``: the command line; builds everything, runs every case, writes the report;
- ``fixtures.py``: the archives and apps, made from the real modules in ``payload/``;
- ``cases.py``: the commands of each case, for one interpreter;
- ``measure.py``: whole-process timing and peak RSS, alternated rounds, medians;
- ``results.py``, ``targets.py``, ``report.py``: ratios, the issue's targets, the Markdown;
- ``plot.py``: the PNG, drawn by the throwaway venv that has matplotlib;
- ``launchers/``: small programs run as children (``runpy.run_module``, interpreter details).
"""
