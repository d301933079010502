# shellcheck shell=bash
# Shared by start.sh and stop.sh (sourced, not run): where the cluster's state lives, and how
# to tell whether a daemon that start.sh started is still running.

DIR=${NERTRANSFER_SLURM_DIR:-/tmp/nertransfer-slurm}
case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
export SLURM_CONF=$DIR/etc/slurm.conf
# The daemons live in sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

# Every daemon in the order start.sh starts them; stop.sh stops them in reverse.
# shellcheck disable=SC2034  # used by stop.sh
ALL_DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf '[slurm %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Each daemon writes its own pid file; munged writes as the munge user, so into its own folder.
pidfile() {
    case $1 in
        munged) echo "$DIR/munge/munged.pid" ;;
        *) echo "$DIR/run/$1.pid" ;;
    esac
}

# True while process $1 exists and is not a zombie (nothing may reap a daemon whose parent is
# an init that does not wait, as in some containers).
pid_alive() {
    local state
    { read -r _ _ state _ < "/proc/$1/stat"; } 2>/dev/null || return 1
    [ "$state" != Z ]
}

# Print the pid of daemon $1 if start.sh started it and it still runs. The name check guards
# against a stale pid file whose pid now belongs to another process.
daemon_pid() {
    local f pid comm
    f=$(pidfile "$1")
    { read -r pid < "$f"; } 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    { read -r comm < "/proc/$pid/comm"; } 2>/dev/null || return 1
    [ "$comm" = "$1" ] && pid_alive "$pid" || return 1
    echo "$pid"
}

running() { daemon_pid "$1" > /dev/null; }

# Stop daemon $1 if start.sh started it: SIGTERM, up to 30 s to exit, then SIGKILL.
stop_daemon() {
    local pid i
    if ! pid=$(daemon_pid "$1"); then
        rm -f "$(pidfile "$1")"
        return 0
    fi
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "$1 (pid $pid) ignored SIGTERM for 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$(pidfile "$1")"
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.2 s until it succeeds; false on timeout.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@" > /dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}

# Starting the two daemons that outage tests stop and start again (daemon.sh); start.sh uses these too.
# slurmctld recovers its saved state (jobs in the queue) from StateSaveLocation; slurmdbd finds
# slurmdbd.conf next to $SLURM_CONF. Daemons must not inherit fd 9 (start.sh's lock).
start_slurmctld() {
    log "starting slurmctld"
    slurmctld -f "$SLURM_CONF" < /dev/null > /dev/null 2>> "$DIR/log/slurmctld.log" 9>&-
}
start_slurmdbd() {
    log "starting slurmdbd"
    slurmdbd < /dev/null > /dev/null 2>> "$DIR/log/slurmdbd.log" 9>&-
}
ctld_up() { scontrol ping | grep -q 'is UP'; }
dbd_up() { sacctmgr -n -P list cluster > /dev/null; }
