"""The host's own ``utils``: the greeter plugin ships a module of the same name.

The host must keep this very object in ``sys.modules`` whatever plugins import.
"""

WHO = "the host's utils"
