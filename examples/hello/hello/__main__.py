"""``python -m zrun hello.pyz`` runs this, like ``python hello.pyz``."""

import sys

from hello.greet import main

if __name__ == "__main__":
    sys.exit(main())
