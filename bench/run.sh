#!/usr/bin/env bash
# The bulk-fetch benchmark, one command from a fresh clone (Debian 12, as root or with sudo):
#
#   bash bench/run.sh            # full run: mixed (10k, ~739 MB), small (50k), scaling 10k/100k
#   bash bench/run.sh --quick    # 500/1,000 messages: try it out in about two minutes
#   bash bench/run.sh --tls      # the same over IMAPS/POP3S (implicit TLS) for every client
#   bash bench/run.sh --sets accounts                  # 200 accounts x 500 small messages, one
#                                # mailvault config/archive/run; mbsync with 200 channels
#   bash bench/run.sh --sets accounts --accounts 50 --per-account 2000 --parallel-accounts 8
#   bash bench/run.sh --sets dupattach                 # 1,000 messages with repeated 2 MB/1 MB/...
#                                # attachments: archive bytes vs one copy of each and tar|zstd -19
#
# Installs the build and peer-tool packages, builds mailvault (Release) and the raw-pull ceiling,
# then runs bench/bench.py, which generates the corpora, starts the private Dovecot (with and
# without COMPRESS=DEFLATE), warms it and times every client on the same data. Any other option
# is passed to bench.py (see `python3 bench/bench.py --help`), e.g. `--scale 10000,100000,1000000`,
# `--sets mixed`, `--reps 5`, `--skip-slow`, `--tls`, `--sets accounts --accounts N --per-account M`,
# `--parallel-accounts P`, `--sets dupattach --dupattach-count N`, `--no-zstd19`,
# `--zstd19-max-mb MB`. Every set reports the mailvault archive's bytes next to `tar | zstd -3` and
# `tar | zstd -19 -T2` of the same message files (-19 left out above 1,500 MB raw, or with
# --no-zstd19; `--zstd19` is accepted and does nothing more).
# The report is printed and saved as bench/results/<timestamp>.md (+ .json with every run).
# Set MAILVAULT_BIN and RAW_PULL_BIN to use already built programs (the build step is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/install-deps.sh
  bash scripts/install-bench-deps.sh
else
  sudo bash scripts/install-deps.sh
  sudo bash scripts/install-bench-deps.sh
fi

if [ -z "${MAILVAULT_BIN:-}" ] || [ -z "${RAW_PULL_BIN:-}" ]; then
  build="${BENCH_BUILD_DIR:-$root/build/bench}"
  echo "== build (Release, $build)"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAILVAULT_TESTS=OFF >/dev/null
  ninja -C "$build" -j "$(nproc)" mailvault mailvault_bench_raw_pull
  MAILVAULT_BIN="$build/mailvault"
  RAW_PULL_BIN="$build/bench/mailvault_bench_raw_pull"
fi

exec python3 bench/bench.py --mailvault "$MAILVAULT_BIN" --raw-pull "$RAW_PULL_BIN" \
  --work "${BENCH_WORK_DIR:-/tmp/mailvault-bench}" "$@"
