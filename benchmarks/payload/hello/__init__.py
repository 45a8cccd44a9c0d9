"""The hello-world package of the start-up cases: ``python -m hello`` prints ``hello``."""


def main() -> None:
    """The entry point shiv, pex and zipapp call (``hello:main``)."""
    print("hello")
