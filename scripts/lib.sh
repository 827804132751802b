# Shell helpers shared by scripts/smoke-start and scripts/audit (sourced).

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_line FILE TEXT PID SECONDS: until FILE holds TEXT; fails when PID
# exits first or SECONDS pass. Looks again every half second (a condition, not a delay).
wait_for_line() {
  local file=$1 text=$2 pid=$3 deadline=$((SECONDS + $4))
  until grep -q "$text" "$file"; do
    kill -0 "$pid" 2>/dev/null || { echo "exited before printing \"$text\"" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "no \"$text\" after $4 s" >&2; return 1; }
    sleep 0.5
  done
}
