"""Isolated workers for plugin hosts: sub-interpreters (3.14+) and spawned processes.

Kept empty so that a worker imports only the pieces it runs: :mod:`.task`
(what a worker executes), :mod:`.process` and :mod:`.interpreter` (the two
kinds of worker), :mod:`.limits`, :mod:`.errors` and the host's
:mod:`.pool`. ``docs/plugin-hosts.md`` says what each level isolates.
"""
