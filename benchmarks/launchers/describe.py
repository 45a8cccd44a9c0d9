"""``python describe.py``: one line of JSON naming the interpreter that runs it."""

import json
import platform
import sys

if __name__ == "__main__":
    print(
        json.dumps(
            {
                "implementation": platform.python_implementation(),
                "version": platform.python_version(),
                "version_info": list(sys.version_info[:2]),
                "executable": sys.executable,
                "build": " ".join(platform.python_build()),
                "compiler": platform.python_compiler(),
            }
        )
    )
