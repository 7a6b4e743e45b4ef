#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite:
#   1. an ASan+UBSan build of everything, all unit and integration tests (real Dovecot) via CTest;
#   2. a clang libFuzzer build of the parser fuzz targets (IMAP, POP3, SMTP, MIME, search query), each run for
#      MV_FUZZ_SECONDS (20) from its transcript/corpus seeds.
# Exits non-zero on any failure. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${MV_JOBS:-$(nproc)}

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/install-deps.sh
else
  sudo bash scripts/install-deps.sh
fi

echo "== build: ASan+UBSan (build/asan)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMAILVAULT_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"

echo "== tests: unit + integration"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
# One more test process than cores: most integration tests spend their time waiting for a
# server (Dovecot, Cyrus, Postfix) to start or answer.
ctest_jobs=${MV_CTEST_JOBS:-$((jobs + 1))}
(cd build/asan && ctest --output-on-failure -j "$ctest_jobs" --timeout 600) 2>&1 | tee build/ctest.log
ctest_rc=${PIPESTATUS[0]}
set -e

fuzz_failed=0
fuzz_run=0
if [ -f tests/fuzz/CMakeLists.txt ] && command -v clang++ >/dev/null; then
  # Each target starts from its seed folder (tests/fuzz/CMakeLists.txt: transcripts and corpus
  # messages copied to build/fuzz/tests/fuzz/seeds/<target>) plus a scratch corpus it grows.
  # MV_FUZZ_SECONDS per target (default 20; the five targets run one per core at a time, about
  # a minute on two cores plus the build; longer runs: MV_FUZZ_SECONDS=600 bash scripts/test.sh).
  echo "== build: libFuzzer targets (build/fuzz)"
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMAILVAULT_FUZZ=ON >/dev/null
  cmake --build build/fuzz -j "$jobs" --target fuzz_targets
  secs=${MV_FUZZ_SECONDS:-20}
  # One target per core at a time: each is single-threaded.
  fuzz_one() {
    local fz=$1 name corpus seeds
    name=$(basename "$fz")
    corpus="build/fuzz/corpus/$name"
    seeds="build/fuzz/tests/fuzz/seeds/$name"
    mkdir -p "$corpus"
    rm -f "build/fuzz/$name.failed"
    if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
      echo "no seeds in $seeds (see tests/fuzz/CMakeLists.txt)" > "build/fuzz/$name.log"
      touch "build/fuzz/$name.failed"
      return
    fi
    echo "== fuzz: $name for ${secs}s from $(ls "$seeds" | wc -l) seeds"
    "$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/$name-" "$corpus" "$seeds" \
      > "build/fuzz/$name.log" 2>&1 || touch "build/fuzz/$name.failed"
  }
  running=0
  targets=()
  for fz in build/fuzz/tests/fuzz/fuzz_*; do
    [ -f "$fz" ] && [ -x "$fz" ] || continue
    targets+=("$fz")
    fuzz_one "$fz" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
  for fz in "${targets[@]}"; do
    name=$(basename "$fz")
    fuzz_run=$((fuzz_run + 1))
    if [ -e "build/fuzz/$name.failed" ]; then
      echo "FUZZ FAILURE in $name; see build/fuzz/$name.log:"
      tail -40 "build/fuzz/$name.log"
      fuzz_failed=$((fuzz_failed + 1))
    else
      echo "$name: $(grep -m1 "INITED" "build/fuzz/$name.log" || true)"
    fi
  done
fi

echo "== summary"
# The tail of each failed test's own output, again, here at the end: a CI page that shows only
# the head and the tail of the log still says why.
failed_list=build/asan/Testing/Temporary/LastTestsFailed.log
if [ "$ctest_rc" -ne 0 ] && [ -s "$failed_list" ]; then
  while IFS=: read -r num name; do
    echo "-- failed: $name (last lines of its output)"
    awk -v n="$num" '
      $0 ~ "Test +#" n ": " { on = 1; next }
      on && (/^ *Start +[0-9]+: / || /^ *[0-9]+\/[0-9]+ Test +#/) { exit }
      on { print }' build/ctest.log | tail -25
  done < "$failed_list"
fi
line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" build/ctest.log | tail -1 || true)
total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
failed=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/')
[ -n "$total" ] || { total=0; failed=1; }
[ "$ctest_rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "ctest: $line (exit $ctest_rc); fuzz targets: $fuzz_run run, $fuzz_failed failed"
echo "total: $((total - failed + fuzz_run - fuzz_failed)) passed, $((failed + fuzz_failed)) failed"
[ "$ctest_rc" -eq 0 ] && [ "$fuzz_failed" -eq 0 ]
