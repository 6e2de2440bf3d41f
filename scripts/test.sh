#!/usr/bin/env bash
# The project's test command (README, CI): builds if needed, runs the meson
# test suites and ends with one summary line "N passed, N failed, N skipped".
#
#   scripts/test.sh                          # every suite
#   scripts/test.sh --suite syscalls-native  # only that suite (repeatable)
#   TEST_SUITES="unit syscalls-native" scripts/test.sh
#   scripts/test.sh -- open_test[native]     # args after -- go to meson test
#
# Suites: unit, syscalls-native, syscalls-sandboxed, e2e, security, fuzz
# (meson suites), and asan: the unit tests and runsc built with
# -Db_sanitize=address,undefined in ${ASAN_BUILD_DIR:-build-asan} (only those
# two targets are built there); the unit tests run there, and every syscall
# test program of ${BUILD_DIR} runs sandboxed under that runsc (the sentry
# and gofer are what is sanitized; the programs are the normal build's).
# Counted as two tests: asan/unit_tests and asan/syscalls_sandboxed.
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
run_asan=1
run_meson=1
if ((${#suites[@]})); then
  run_asan=0
  for s in "${suites[@]}"; do
    if [[ "$s" == asan ]]; then
      run_asan=1
    elif [[ -n "$s" ]]; then
      suite_args+=(--suite "$s")
    fi
  done
  ((${#suite_args[@]})) || run_meson=0
fi
# Tests named after --: meson tests only.
((${#meson_args[@]})) && run_asan=0 && run_meson=1

testlog="${build_dir}/meson-logs/testlog.json"
mkdir -p "$(dirname "${testlog}")"
rm -f "${testlog}"
status=0
if ((run_meson)); then
  meson test -C "${build_dir}" --no-rebuild --print-errorlogs "${suite_args[@]}" "${meson_args[@]}" || status=$?
fi

# The sanitizer build: the unit tests, and the syscall tests sandboxed under
# the sanitized runsc; one result line each in the log. UBSan halts on the
# first error (b_sanitize=undefined alone only prints), ASan aborts; in the
# sandboxed runs either makes runsc exit non-zero, so the test fails.
if ((run_asan)); then
  asan_dir="${ASAN_BUILD_DIR:-build-asan}"
  asan_result=OK
  start=${SECONDS}
  if [[ ! -f "${asan_dir}/build.ninja" ]]; then
    meson setup "${asan_dir}" --buildtype=debug -Db_sanitize=address,undefined >/dev/null || asan_result=ERROR
  elif ! grep -q '"name": "b_sanitize", "value": "address,undefined"' \
      "${asan_dir}/meson-info/intro-buildoptions.json" 2>/dev/null; then
    # A directory set up otherwise (e.g. address only): both sanitizers.
    meson configure "${asan_dir}" -Db_sanitize=address,undefined >/dev/null || asan_result=ERROR
  fi
  if [[ "${asan_result}" == OK ]] && ! ninja -C "${asan_dir}" tests/unit/unit_tests runsc/runsc; then
    echo "test.sh: the asan build of the unit tests and runsc failed" >&2
    asan_result=ERROR
  fi
  syscalls_result=${asan_result}
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  if [[ "${asan_result}" == OK ]]; then
    echo "test.sh: asan: ${asan_dir}/tests/unit/unit_tests"
    if ! SOURCE_DIR="${PWD}" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        "${asan_dir}/tests/unit/unit_tests" --gtest_brief=1 >"${asan_dir}/unit_tests.log" 2>&1; then
      tail -n 60 "${asan_dir}/unit_tests.log"
      asan_result=FAIL
    fi
  fi
  echo "test.sh: asan unit tests: ${asan_result} ($((SECONDS - start)) s; log ${asan_dir}/unit_tests.log)"
  echo "{\"name\": \"asan/unit_tests\", \"result\": \"${asan_result}\"}" >>"${testlog}"
  if [[ "${syscalls_result}" == OK ]]; then
    start=${SECONDS}
    echo "test.sh: asan: syscall tests sandboxed under ${asan_dir}/runsc/runsc"
    # No leak check: the sentry leaves by _exit with task threads parked.
    if ! ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 python3 tests/syscalls/run.py --mode sandboxed \
        --runsc "${asan_dir}/runsc/runsc" "${build_dir}"/tests/syscalls/*_test \
        >"${asan_dir}/syscalls_sandboxed.log" 2>&1; then
      grep -E -A4 ": Failure|FAIL|ERROR: AddressSanitizer|runtime error" "${asan_dir}/syscalls_sandboxed.log" | head -n 60
      syscalls_result=FAIL
    fi
    echo "test.sh: asan syscall tests (sandboxed): ${syscalls_result} ($((SECONDS - start)) s;" \
      "log ${asan_dir}/syscalls_sandboxed.log)"
  fi
  echo "{\"name\": \"asan/syscalls_sandboxed\", \"result\": \"${syscalls_result}\"}" >>"${testlog}"
fi

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
