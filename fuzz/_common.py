"""What the harnesses share: zrun from this checkout, and the seed corpus."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]  # zrun from this checkout; hostile.py for seeds


def write_seeds(folder: str) -> int:
    """Write the hostile corpus's archives (good and damaged) as a starting corpus; return how many."""
    import hostile

    os.makedirs(folder, exist_ok=True)
    count = 0
    for name, blob in hostile.seeds():
        with open(os.path.join(folder, name), "wb") as stream:
            stream.write(blob)
        count += 1
    return count
