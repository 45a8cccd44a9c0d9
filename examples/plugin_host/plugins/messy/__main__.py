"""A plugin that changes everything in ``sys`` it can reach, and leaves it so."""

import io
import os
import sys

import helpers

sys.path.append("/nowhere")
sys.argv = ["messy", "--changed"]
sys.modules["messy_global"] = sys.modules[__name__]
os.environ["MESSY_PLUGIN"] = "was here"
sys.stdout = io.StringIO()  # a plugin that forgot to put stdout back
print(helpers.tidy_up())
