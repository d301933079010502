#!/usr/bin/env bash
# Stop the Slurm cluster that tests/slurm/start.sh started.
#
# Usage: tests/slurm/stop.sh [--purge]
#   --purge   also delete the state folder (configs, logs, job records, MariaDB's data)
#
# Cancels the cluster's jobs, then stops only the daemons whose pid files start.sh left in the
# state folder ($NERTRANSFER_SLURM_DIR, default /tmp/nertransfer-slurm), in reverse order of
# their start (slurmd, slurmctld, slurmdbd, MariaDB, munged), and waits for each to exit. A
# system Slurm, munged or MariaDB is left alone, and so are the packages. Running it when nothing
# runs is fine.

set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

PURGE=0
for arg in "$@"; do
    case $arg in
        --purge) PURGE=1 ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg'; usage: $0 [--purge]" ;;
    esac
done

if [ ! -d "$DIR" ]; then
    log "nothing to stop: $DIR does not exist"
    exit 0
fi
any=0
for d in "${ALL_DAEMONS[@]}"; do running "$d" && any=1; done
if ((!any && !PURGE)); then
    log "nothing to stop: no daemon of $DIR runs"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "stopping the cluster needs root (sudo $0 $*)"

exec 9>> "$DIR/.lock"
flock -w 900 9 || die "another start.sh or stop.sh holds $DIR/.lock"

# Cancel the jobs first: slurmstepd and the job's processes outlive slurmd.
if running slurmctld; then
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        log "cancelling jobs ${jobs//$'\n'/ }"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do  # KillWait is 5 s
            [ -z "$(timeout 10 squeue -h -o %A 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi

for ((i = ${#ALL_DAEMONS[@]} - 1; i >= 0; i--)); do
    stop_daemon "${ALL_DAEMONS[i]}"
done
log "stopped"

if ((PURGE)); then
    # Only a folder that start.sh made: NERTRANSFER_SLURM_DIR might point anywhere.
    [ -e "$DIR/.nertransfer-slurm" ] || die "not purging $DIR: start.sh did not make it"
    rm -rf -- "$DIR"
    log "removed $DIR"
fi
