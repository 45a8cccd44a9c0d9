"""Holds ``m00000.py`` ... , copies of ``bulk_module.py`` written by ``benchmarks/fixtures.py``."""
