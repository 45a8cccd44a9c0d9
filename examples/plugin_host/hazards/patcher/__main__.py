"""A plugin that patches the standard library and process-wide state, and never puts it back.

A scope cannot undo any of this (docs/plugin-hosts.md); an isolated worker keeps it to itself.
"""

import atexit
import json
import os
import sys
import threading
import time

json.dumps = lambda *args, **kwargs: "patched by a plugin"
os.environ["PATCHER_PLUGIN"] = "was here"
sys.setrecursionlimit(123)
atexit.register(print, "patcher: atexit handler ran in the worker")
threading.Thread(target=time.sleep, args=(0.2,), name="patcher-thread").start()
print(f"patcher: json.dumps is now {json.dumps({})}")  # one write: other workers print to the same pipe
