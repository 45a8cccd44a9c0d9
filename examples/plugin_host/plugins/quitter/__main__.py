"""A plugin that ends "the program" with ``sys.exit(3)``; the host must survive it."""

import sys

print("quitter: giving up")
sys.exit(3)
