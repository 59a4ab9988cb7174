#!/usr/bin/env bash
# Every cargo command in the Makefile and the scripts compiles one dependency
# graph, so the AWS and DataFusion stack is built once per change, not once per
# command. Cargo enables a dependency's features from the packages a command
# selects, and builds a crate again when its features differ: `-p ade-operator
# -p ade-validator` once left out the streamer's `event-stream` feature of
# aws-runtime, and every AWS crate was compiled a second time.
#
# This check (part of `make lint`) finds each cargo command in the files below,
# fails when one selects packages other than with `--workspace` (optionally
# `--exclude`), and fails when a selection would build any crate with other
# features than `cargo test --workspace` does, as `cargo tree` resolves them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

files=(Makefile .ci/run e2e/cluster tools/*/*.sh */bench/*.sh)
for f in hack/*.sh; do [[ $f == hack/check-cargo-selection.sh ]] || files+=("$f"); done

# `<package> <version> <features>` for every crate a selection builds.
resolve() { # resolve <dev|no-dev> <selection flags...>
  local edges=normal,build
  [[ $1 == dev ]] && edges=normal,build,dev
  shift
  cargo tree --locked --quiet "$@" -e "$edges" --prefix none -f '{p} {f}' | sed 's/ (\*)$//' | sort -u
}

reference=$(mktemp)
selection=$(mktemp)
trap 'rm -f "$reference" "$selection"' EXIT
resolve dev --workspace >"$reference"

failed=0
declare -A seen=()
while IFS=: read -r file line text; do
  read -r -a words <<<"${text#*cargo }"
  sub=${words[0]}
  flags=() edges=no-dev workspace=0 i=1
  [[ $sub == test || $sub == bench ]] && edges=dev
  while ((i < ${#words[@]})); do
    w=${words[$i]}
    case $w in
      --) break ;;
      --workspace | --all) workspace=1 flags+=(--workspace) ;;
      --exclude) flags+=(--exclude "${words[$((i + 1))]}") i=$((i + 1)) ;;
      -p | --package) flags+=(-p "${words[$((i + 1))]}") i=$((i + 1)) ;;
      --package=*) flags+=(-p "${w#--package=}") ;;
      --all-targets | --tests | --benches | --examples) edges=dev ;;
    esac
    i=$((i + 1))
  done
  where="$file:$line: cargo $sub"
  if ((workspace == 0)); then
    echo "$where selects packages without --workspace (every cargo command selects --workspace, see docs/development.md)" >&2
    failed=1
    continue
  fi
  key="$edges ${flags[*]}"
  [[ -n ${seen[$key]:-} ]] && continue
  seen[$key]=1
  resolve "$edges" "${flags[@]}" >"$selection"
  if extra=$(comm -23 "$selection" "$reference") && [[ -n $extra ]]; then
    echo "$where (${flags[*]}) builds crates with other features than cargo test --workspace:" >&2
    sed 's/^/  /' <<<"$extra" >&2
    failed=1
  fi
done < <(grep -nE '(^|[^[:alnum:]_-])cargo (build|check|clippy|test|bench|run|doc|rustc|nextest)\b' "${files[@]}" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#')

((failed == 0)) || exit 1
echo "cargo selections: ${#seen[@]} distinct, each builds the dependency graph of cargo test --workspace"
