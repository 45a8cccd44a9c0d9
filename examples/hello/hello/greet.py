"""Greets from inside an archive, with a relative import and a resource file."""

import sys

from . import text


def main() -> int:
    who = " ".join(sys.argv[1:]) or "world"
    print(text.greeting(who))
    print(f"(running {__spec__.name} from {__spec__.origin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
