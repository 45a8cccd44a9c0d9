# runner.pyz's __main__.py: shiv's bootstrap, a fast path past it, and a usable error when it cannot extract.
#
# build_pyz.py writes this file into the archive in place of shiv's own two
# lines. Fast path: when this build is already extracted where shiv would look
# (${SHIV_ROOT:-~/.shiv}/<archive name>_<build id>/site-packages, owned by this
# user, writable by no one else), and no SHIV_* setting but SHIV_ROOT,
# SHIV_COMPILE_PYC or SHIV_COMPILE_WORKERS (extraction-only settings) is set,
# it puts that site-packages on sys.path where shiv's bootstrap would (with
# site.addsitedir, at the first site-packages entry) and calls the entry point,
# without importing shiv's _bootstrap (zipfile, compileall, json, pathlib...).
# Anything else, or anything unusual, goes through shiv's bootstrap. build_pyz
# checks at build time that environment.json asks for nothing this skips.
#
# Slow path: shiv extracts the archive's site-packages before zrun's code can
# run; where that folder cannot be made (a read-only or missing home, a full
# disk), shiv dies in a chained traceback that never says what to do. This
# prints one line that does, and exits 1. Every other OSError, one from writing
# to a closed pipe say, is re-raised as it came.
#
# Only _zrun_fast_path and shiv's _bootstrap are defined before the target
# runs, and zrun.pyz removes both: a module:function target runs under this
# module as __main__ and must not see the runner's globals (tests/test_pyz.py).


def _zrun_fast_path():
    import os
    import sys

    allowed = ("SHIV_ROOT", "SHIV_COMPILE_PYC", "SHIV_COMPILE_WORKERS")
    if [name for name in os.environ if name.startswith("SHIV_") and name not in allowed]:
        return
    archive = getattr(__loader__, "archive", None)  # a zipimporter: this file is inside runner.pyz
    root = os.environ.get("SHIV_ROOT") or "~/.shiv"
    if not archive or root.startswith("$") or os.path.realpath(archive) != os.path.realpath(sys.argv[0]):
        return
    try:
        environment = __loader__.get_data("environment.json").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return
    key = '"build_id": "'
    start = environment.find(key) + len(key)
    build_id = environment[start : start + 64]
    if start < len(key) or environment[start + 64 : start + 65] != '"' or build_id.strip("0123456789abcdef"):
        return
    extraction = os.path.join(os.path.expanduser(root), f"{os.path.basename(os.path.realpath(sys.argv[0]))}_{build_id}")
    site_packages = os.path.abspath(os.path.join(extraction, "site-packages"))
    try:
        for path in (extraction, site_packages):
            st = os.stat(path)
            if st.st_uid != os.getuid() or st.st_mode & 0o022 or not os.path.isdir(path):
                return
    except (OSError, AttributeError):
        return
    if not os.path.isfile(os.path.join(site_packages, "zrun", "pyz.py")):
        return
    import site

    length = len(sys.path)
    stems = [os.path.splitext(os.path.basename(part.rstrip(os.sep)))[0] for part in sys.path]
    first = [i for i, stem in enumerate(stems) if stem in ("site-packages", "dist-packages")]
    index = (first[0] if first else 0) or length  # shiv's `get_first_sitedir_index() or length`
    site.addsitedir(site_packages)
    sys.path[:] = sys.path[:index] + sys.path[length:] + sys.path[index:length]
    from zrun.pyz import main

    sys.exit(main())


_zrun_fast_path()
import _bootstrap  # noqa: E402

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
