# local-service.sh - shell helpers shared by kafka-local.sh and
# trino-local.sh, which source it: messages, the usage text, a JVM started in
# the background (its pid file, its port, stopping it) and the state dir
# (its lock, purging it).  It starts and stops nothing by itself.
# The sourcing script sets SERVICE (the message prefix, e.g. kafka-local),
# SERVICE_WHAT (what a stop message calls the process, e.g. broker),
# STATE_DIR, MARKER (the file that marks STATE_DIR as made by the script),
# PID_FILE and STOP_TIMEOUT.
# shellcheck shell=bash disable=SC2154  # the variables above come from the sourcing script

log() { echo "$SERVICE: $*" >&2; }
die() { log "$*"; exit 1; }

# The "# Usage:" comment block of the running script, up to `set -euo`.
usage() {
    sed -n '/^# Usage:/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[${#BASH_SOURCE[@]} - 1]}"
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run scripts/install-deps.sh"
}

# Prints the pid the script just started (PID_FILE) while that process has
# not exited.  Not the script's own our_pid: right after the start the pid
# may still be nohup or setsid exec'ing java (its cmdline in flux), and a
# JVM that died stays a zombie child of this shell, which kill -0 counts alive.
started_pid() {
    local pid st
    pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# any_alive PID...: true while one of them runs.
any_alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

# stop_pid PID...: SIGTERM to each, waits up to STOP_TIMEOUT seconds for
# them all, then SIGKILL.
stop_pid() {
    local pid i
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
        any_alive "$@" || return 0
        sleep 0.2
    done
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null || continue
        log "$SERVICE_WHAT pid $pid did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    for ((i = 0; i < 25; i++)); do
        any_alive "$@" || return 0
        sleep 0.2
    done
}

lock_state() {
    exec 9>"$STATE_DIR/.lock"
    flock 9
}

# `down --purge`: deletes STATE_DIR if the script made it (or it is empty).
purge_state() {
    [[ -d $STATE_DIR ]] || return 0
    if [[ -f $MARKER ]]; then
        rm -rf "$STATE_DIR"
        log "removed $STATE_DIR"
    elif [[ -z $(ls -A "$STATE_DIR") ]]; then
        rmdir "$STATE_DIR"
    else
        die "not purging $STATE_DIR: it was not created by this script"
    fi
}
