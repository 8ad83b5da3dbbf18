# serve_lib.sh — sourced by the integration tests that run `stacktwin serve`.

# server_port FD ERRFILE: read the server's first stdout line from FD
# ("listening on http://127.0.0.1:PORT") into SERVER_PORT, or fail.
server_port() {
	local fd=$1 err=$2 line=
	read -r -t 10 line <&"$fd" || { echo "FAIL: no listening line; stderr: $(cat "$err")"; return 1; }
	case "$line" in
	"listening on http://127.0.0.1:"[0-9]*) echo "ok: $line" ;;
	*) echo "FAIL: unexpected first line '$line'"; return 1 ;;
	esac
	SERVER_PORT=${line##*:}
}

# stop_server PID ERRFILE: SIGTERM, then require the process to exit with 0
# within 5 s.
stop_server() {
	local pid=$1 err=$2 rc
	kill -TERM "$pid"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: server still running 5 s after SIGTERM"
		return 1
	fi
	set +e
	wait "$pid"
	rc=$?
	set -e
	[ "$rc" = 0 ] || { echo "FAIL: serve exit $rc after SIGTERM, want 0; stderr: $(cat "$err")"; return 1; }
}
