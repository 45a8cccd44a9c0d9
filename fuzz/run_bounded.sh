#!/usr/bin/env bash
# Fuzz zrun's archive reader and target parser for SECONDS in all (split between
# the two harnesses), seeded from tests/hostile.py. For CI and for a quick local run:
#
#     fuzz/run_bounded.sh 90                          # interpreter: first that atheris installs on
#     ZRUN_FUZZ_PYTHON=python3.12 fuzz/run_bounded.sh 600
#
# atheris is installed into a venv outside the checkout
# (${ZRUN_FUZZ_VENV:-${TMPDIR:-/tmp}/zrun-fuzz-<version>}). If it cannot be installed
# on this interpreter (no wheel and no libFuzzer to build one), the script says so and
# exits 0: fuzzing is a bonus there, not a gate.
#
# Exit status: 0 clean (or skipped), 1 a harness crashed. Crashing inputs are kept in
# fuzz/crashes/; turn each into an entry of FUZZ_REGRESSIONS in tests/test_hostile.py.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: fuzz/run_bounded.sh SECONDS}
per_harness=$(( seconds / 2 ))
[ "$per_harness" -ge 1 ] || per_harness=1

pick_python() {
    local candidate
    for candidate in ${ZRUN_FUZZ_PYTHON:-} python3.12 python3.11 python3.13 "$HOME"/.pyenv/versions/3.12.*/bin/python3.12 \
            "$HOME"/.pyenv/versions/3.11.*/bin/python3.11 "$HOME"/.pyenv/versions/3.13.*/bin/python3.13 python3; do
        # (a pyenv shim exists for every version but runs only the selected ones)
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.implementation.name == "cpython"' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if ! py=$(pick_python); then
    echo "fuzz: no Python found; skipped"
    exit 0
fi
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=${ZRUN_FUZZ_VENV:-${TMPDIR:-/tmp}/zrun-fuzz-$version}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import atheris' >/dev/null 2>&1; then
    rm -rf "$venv"
    "$py" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check atheris >"$venv/install.log" 2>&1; then
        echo "fuzz: atheris does not install on Python $version ($py); skipped (see $venv/install.log)"
        exit 0
    fi
fi
# zrun itself is imported from this checkout's src/ (fuzz/_common.py): nothing else to install.

work=$(mktemp -d "${TMPDIR:-/tmp}/zrun-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz/crashes "$work/archive" "$work/target"
(cd fuzz && "$venv/bin/python" -c 'import _common, sys; print("fuzz: %d seed archives" % _common.write_seeds(sys.argv[1]))' "$work/archive")

status=0
for harness in archive target; do
    echo "== fuzz_$harness: ${per_harness}s on Python $version"
    if ! "$venv/bin/python" "fuzz/fuzz_$harness.py" \
            -max_total_time="$per_harness" -timeout=10 -rss_limit_mb=1536 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="fuzz/crashes/$harness-" \
            "$work/$harness" >"$work/$harness.log" 2>&1; then
        status=1
        echo "fuzz_$harness CRASHED; input kept in fuzz/crashes/ (make it a test in tests/test_hostile.py)"
        grep -v '^#\|^"' "$work/$harness.log" | tail -40
    else
        grep -E '^Done|stat::number_of_executed_units|stat::peak_rss_mb' "$work/$harness.log" || true
    fi
done
exit $status
