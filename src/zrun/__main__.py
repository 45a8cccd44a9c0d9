"""``python -m zrun``."""

import sys

from zrun.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
