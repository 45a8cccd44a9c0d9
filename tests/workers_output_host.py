"""A host whose one process worker prints in a task, then dies in the next (tests/test_workers_process.py)."""

import zrun

PLUGIN = zrun.MemorySource(
    {
        "talk.py": "def hello():\n    print('said before the crash')\n",
        "crash.py": "import os\n\ndef now():\n    os._exit(9)\n",
    },
    name="output",
)


def main() -> None:
    with zrun.Workers(PLUGIN, size=1, timeout=60) as workers:
        workers.call("talk:hello")
        try:
            workers.call("crash:now")
        except zrun.WorkerDied as exc:
            print(f"host saw: {exc.exitcode}", flush=True)


if __name__ == "__main__":
    main()
