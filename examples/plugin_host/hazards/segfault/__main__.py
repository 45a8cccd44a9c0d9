"""A plugin that crashes the interpreter it runs in (a segmentation fault through ctypes)."""

import ctypes

print("segfault: about to dereference NULL", flush=True)
ctypes.string_at(0)
