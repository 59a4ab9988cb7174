# Helpers of the demo's chapters (hack/demo.sh).

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# A chapter's title.
chapter() { printf '\n\033[1;34m## %s\033[0m\n' "$*"; }

# One line on what just happened.
what() { printf '\n\033[1;32m-- what just happened:\033[0m %s\n' "$*"; }

# Prints a command as the reader would type it, then runs it.
show() {
  printf '\n\033[2m$ %s\033[0m\n' "$*"
  "$@"
}

# wait_until SECONDS WHAT CONDITION: evaluates CONDITION (a shell command)
# every second until it succeeds; fails the demo naming WHAT after SECONDS.
wait_until() {
  local seconds=$1 what=$2 condition=$3
  for _ in $(seq 1 "$seconds"); do
    if eval "$condition" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "demo: timed out after ${seconds}s waiting for $what" >&2
  return 1
}

# Starts moto (tools/moto) on a free port of 127.0.0.1: sets moto_pid and
# moto_url.
start_moto() {
  local bin out
  bin=$(tools/moto/ensure.sh)
  out="$state/logs/moto-demo.out"
  : >"$out"
  "$bin/python" tools/moto/server.py --port 0 >"$out" 2>"$state/logs/moto-demo.log" &
  moto_pid=$!
  wait_until 60 "moto to answer" "grep -q '^ready ' '$out'"
  moto_url="http://127.0.0.1:$(awk '/^ready/ {print $2}' "$out")"
}

# Tells moto's EMR, which never advances steps on its own, that a step moved
# to STATE (the emulator's stand-in for Spark running the step).
emr_step() {
  curl -fsS -X POST "$moto_url/ade-control/emr/step-state" \
    -d "{\"clusterId\": \"$1\", \"stepId\": \"$2\", \"state\": \"$3\"}" >/dev/null
}
