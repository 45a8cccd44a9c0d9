"""``python run_module.py MODULE [ARGS...]``: run MODULE with ``runpy.run_module``.

The ``runpy.run_module`` row: the library call a host program uses to run a
module found on ``sys.path`` (here ``PYTHONPATH=hello.zip``), as ``__main__``
with ``sys.argv`` set, which is what ``python -m`` does through a private helper.
"""

import runpy
import sys

if __name__ == "__main__":
    del sys.argv[0]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
