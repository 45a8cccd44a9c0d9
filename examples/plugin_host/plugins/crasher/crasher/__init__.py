"""A plugin with a bug: its entry point raises."""


def run(host: object) -> str:
    raise RuntimeError("plugin bug: division by zero")
