"""Small programs the suite runs as child processes (real files, run by path)."""
