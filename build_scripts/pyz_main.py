# runner.pyz's __main__.py: shiv's bootstrap, and a usable error when it cannot extract itself.
#
# build_pyz.py writes this file into the archive in place of shiv's own two
# lines. shiv extracts the archive's site-packages under ${SHIV_ROOT:-~/.shiv}
# before zrun's code can run; where that folder cannot be made (a read-only or
# missing home, a full disk), shiv dies in a chained traceback that never says
# what to do. This prints one line that does, and exits 1.
#
# No name but shiv's `_bootstrap` is defined before the target runs: a
# module:function target runs under this module as __main__ and must not see
# the runner's globals (tests/test_pyz.py checks it). Every other OSError, one
# from writing to a closed pipe say, is re-raised as it came.
import _bootstrap

try:
    _bootstrap.bootstrap()
except OSError as _error:
    import os as _os
    import sys as _sys

    _root = _os.path.abspath(_os.path.expanduser(_os.environ.get("SHIV_ROOT") or "~/.shiv"))
    _where = _os.path.abspath(str(_error.filename or ""))
    if not _error.filename or not (_where == _root or _where.startswith(_root + _os.sep) or _root.startswith(_where + _os.sep)):
        raise
    _sys.stderr.write(
        f"{_os.path.basename(_sys.argv[0])}: error: cannot extract itself to {_root}: {_error.strerror or _error} ({_where}); "
        "set SHIV_ROOT to a writable directory (for example SHIV_ROOT=/tmp/shiv-$USER)\n"
    )
    _sys.exit(1)
