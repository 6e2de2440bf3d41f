#!/usr/bin/env bash
# The project's test command (README, CI): builds if needed, runs the meson
# test suites and ends with one summary line "N passed, N failed, N skipped".
#
#   scripts/test.sh                          # every suite
#   scripts/test.sh --suite syscalls-native  # only that suite (repeatable)
#   TEST_SUITES="unit syscalls-native" scripts/test.sh
#   scripts/test.sh -- open_test[native]     # args after -- go to meson test
#
# Suites: unit, syscalls-native, syscalls-sandboxed, e2e.
# Environment: BUILD_DIR (default: build), TEST_SUITES (space- or
# comma-separated; default: all), RUNSC_FLAGS (extra runsc flags for the
# sandboxed runs). Exits non-zero if a test failed or the build failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="${BUILD_DIR:-build}"

suites=()
if [[ -n "${TEST_SUITES:-}" ]]; then
  IFS=', ' read -r -a suites <<<"${TEST_SUITES}"
fi
meson_args=()
while (($#)); do
  case "$1" in
    --suite) suites+=("$2"); shift 2 ;;
    --suite=*) suites+=("${1#--suite=}"); shift ;;
    --) shift; meson_args+=("$@"); break ;;
    *) meson_args+=("$1"); shift ;;
  esac
done

if [[ ! -f "${build_dir}/build.ninja" ]]; then
  if [[ -x scripts/setup.sh ]]; then
    echo "test.sh: no build in ${build_dir}; running scripts/setup.sh" >&2
    scripts/setup.sh
  fi
  if [[ ! -f "${build_dir}/build.ninja" ]]; then
    meson setup "${build_dir}"
  fi
fi
if ! ninja -C "${build_dir}"; then
  echo "test.sh: the build failed; no test was run" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

suite_args=()
for s in "${suites[@]}"; do
  [[ -n "$s" ]] && suite_args+=(--suite "$s")
done

testlog="${build_dir}/meson-logs/testlog.json"
rm -f "${testlog}"
status=0
meson test -C "${build_dir}" --no-rebuild --print-errorlogs "${suite_args[@]}" "${meson_args[@]}" || status=$?

if [[ ! -f "${testlog}" ]]; then
  echo "test.sh: meson wrote no ${testlog}" >&2
  echo "0 passed, 0 failed, 0 skipped"
  exit 1
fi
summary_status=0
python3 - "${testlog}" <<'PY' || summary_status=$?
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
            failed += 1
print("{} passed, {} failed, {} skipped".format(passed, failed, skipped))
sys.exit(1 if failed else 0)
PY
# meson returns the failure count, which could wrap to 0 modulo 256.
if ((status != 0 || summary_status != 0)); then exit 1; fi
exit 0
