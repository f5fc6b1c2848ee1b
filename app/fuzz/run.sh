#!/usr/bin/env bash
# Fuzzes the socket frame parser and the three backup decoders with libFuzzer, RUNS executions
# each (default one million), memory capped so an unbounded allocation is a failure.
#   app/fuzz/run.sh            every target
#   RUNS=100000 app/fuzz/run.sh client_frame
# Needs a nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). New inputs go to a
# scratch corpus; worthwhile ones can be minimised into app/fuzz/corpus with `cargo fuzz cmin`.
# Without a sanitizer: Confab forbids unsafe code, so what is sought is panics, hangs and
# runaway memory, not memory corruption (add --sanitizer address to look for that in deps).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-1000000}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(client_frame backup_jsonl backup_xml backup_csv)
scratch="${TMPDIR:-/tmp}/confab-fuzz"
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  echo "==> $target: $RUNS executions"
  start=$(date +%s)
  log="$scratch/$target.log"
  status=0
  cargo +nightly fuzz run -O --sanitizer none "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -runs="$RUNS" -max_len=65536 -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|ERROR|panicked' "$log" || true
  echo "    $(( $(date +%s) - start )) s, exit $status"
  [ "$status" -eq 0 ] || { echo "    see $log"; exit "$status"; }
done
