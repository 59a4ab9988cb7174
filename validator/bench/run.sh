#!/usr/bin/env bash
# The validator benchmark (not a test): generates a 5,000,000-row × 12-column
# Parquet file, then times and records peak memory (/usr/bin/time -v) for a plain
# Arrow scan (the floor), ade-validate's full profile, ade-validate with the
# 11-check suite (checks-suite.json), and the same work in pandas, polars, DuckDB
# and Great Expectations (installed into a virtualenv under ~/.cache/ade).
# Prints a markdown table and writes it to validator/BENCHMARK.md.
#
# usage: validator/bench/run.sh [ROWS]   (REPEAT=N: rounds of the fast runs, default 3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rows="${1:-5000000}"
repeat="${REPEAT:-3}"
cache="${ADE_CACHE_DIR:-$HOME/.cache/ade}"
work="$cache/bench-validator"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
mkdir -p "$work"

if ! [[ -x /usr/bin/time ]]; then
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

echo "== building (release)" >&2
(cd "$root" && cargo build --release --locked -q --workspace --bin ade-validate --bin ade-bench-scan)
bin="$CARGO_TARGET_DIR/release"

data="$work/bench-$rows.parquet"
if [[ ! -f "$data" ]]; then
    echo "== generating $data" >&2
    "$bin/ade-validate" gen-bench-data --out "$data" --rows "$rows"
fi

venv="$cache/bench-venv-py$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
if [[ ! -f "$venv/.complete" ]]; then
    echo "== installing pandas, pyarrow, polars, duckdb into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check pandas pyarrow polars duckdb >&2
    touch "$venv/.complete"
fi
ge_status="installed"
if [[ ! -f "$venv/.ge-complete" ]]; then
    echo "== installing great_expectations (10 min limit)" >&2
    if timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check great_expectations >&2; then
        touch "$venv/.ge-complete"
    else
        ge_status="did not install"
    fi
fi
py="$venv/bin/python"

results="$work/results.tsv"
: > "$results"
measure() {
    local label="$1"
    shift
    echo "== $label" >&2
    local status=ok
    if ! /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/out.txt" 2> "$work/err.txt"; then
        # ade-validate exits 1 when checks fail: that is a result, not an error.
        if ! grep -q '"apiVersion"' "$work/out.txt"; then
            status="failed: $(tail -1 "$work/err.txt" | cut -c1-80)"
        fi
    fi
    local wall rss
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")"
    # m:ss.ss or h:mm:ss → seconds
    local secs
    secs="$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')"
    printf '%s\t%s\t%s\t%s\n' "$label" "$secs" "$((rss / 1024))" "$status" >> "$results"
}

spec="$work/checks-suite.json"
sed "s#\"uri\": \"bench.parquet\"#\"uri\": \"$data\"#" "$here/checks-suite.json" > "$spec"

# The floor and ade-validate are fast enough to repeat: they run in rounds (floor,
# profile, suite), and the table shows each one's median, so a burst of load on a
# shared machine moves one round, not the result.
for ((round = 1; round <= repeat; round++)); do
    measure "Arrow/Parquet scan (floor)" "$bin/ade-bench-scan" "$data"
    measure "ade-validate: full profile" "$bin/ade-validate" --dataset "$data" --suite-name bench --batch-id b --no-publish
    measure "ade-validate: 11-check suite" "$bin/ade-validate" --suite-spec "$spec" --suite-name bench --batch-id b \
        --window-start 2026-09-22T00:00:00Z --window-end 2026-09-23T00:00:00Z --no-publish
done
for engine in pandas polars duckdb; do
    measure "$engine: full profile" "$py" "$here/peers.py" "$engine" profile "$data"
    measure "$engine: 11 checks" "$py" "$here/peers.py" "$engine" checks "$data"
done
if [[ "$ge_status" == installed ]]; then
    measure "Great Expectations: 11 checks" "$py" "$here/peers.py" ge checks "$data"
fi

# One row per label: the median seconds and peak memory of its runs (first-seen order).
summary="$work/summary.tsv"
awk -F'\t' '
    !($1 in n) { order[++labels] = $1 }
    { n[$1]++; secs[$1, n[$1]] = $2; rss[$1, n[$1]] = $3; status[$1] = $4 }
    function median(arr, label, count,    i, j, t, v) {
        for (i = 1; i <= count; i++) v[i] = arr[label, i]
        for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return count % 2 ? v[(count + 1) / 2] : (v[count / 2] + v[count / 2 + 1]) / 2
    }
    END { for (k = 1; k <= labels; k++) { l = order[k]; printf "%s\t%s\t%d\t%s\t%d\n", l, median(secs, l, n[l]), median(rss, l, n[l]), status[l], n[l] } }
' "$results" > "$summary"
floor="$(awk -F'\t' 'NR==1 {print $2}' "$summary")"
table="$(
    echo "| run | seconds | × floor | peak RSS (MB) | status |"
    echo "|---|---:|---:|---:|---|"
    awk -F'\t' -v floor="$floor" '{ runs = $5 > 1 ? sprintf(" (median of %d)", $5) : ""; printf "| %s%s | %.2f | %.2f | %d | %s |\n", $1, runs, $2, $2/floor, $3, $4 }' "$summary"
)"
# Every round's own ratio, to show the spread.
rounds="$(awk -F'\t' '
    /^Arrow\/Parquet scan/ { f = $2 }
    /^ade-validate: full profile/ { p = $2 }
    /^ade-validate: 11-check suite/ { printf "%s%.2f× / %.2f×", sep, p / f, $2 / f; sep = ", " }
' "$results")"
cpu="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
{
    echo "# ade-validate benchmark"
    echo
    echo "Produced by \`validator/bench/run.sh\` on $(date -u +%Y-%m-%d) ($cpu): $rows rows × 12 columns"
    echo "(ints, floats with nulls, low- and high-cardinality strings, timestamps), Snappy Parquet,"
    echo "$(du -m "$data" | cut -f1) MB. Wall time and peak resident memory from \`/usr/bin/time -v\`."
    echo "The floor reads every batch with the parquet crate the way ade-validate's scan does (same threads"
    echo "and partitions, async object_store reads, strings as Utf8View); see bench/scan.rs."
    echo "Great Expectations: $ge_status."
    echo
    echo "$table"
    echo
    echo "Each round's full profile / 11-check suite against that round's floor: $rounds."
} > "$root/validator/BENCHMARK.md"
echo "$table"
echo "rounds (profile / suite × floor): $rounds"
