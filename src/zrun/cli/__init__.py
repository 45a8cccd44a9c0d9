"""The command line: ``python -m zrun``, its messages, ``zrun info`` and ``zrun cache``."""
