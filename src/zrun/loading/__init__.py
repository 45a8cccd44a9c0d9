"""The one loader family: finders and loaders over every source, and what rides on them.

Bytecode, resources, namespace portions, native extensions, distribution metadata.
"""
