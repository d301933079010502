#!/usr/bin/env bash
# Stop or start daemons of the test cluster that tests/slurm/start.sh started, to test outages.
#
# Usage: tests/slurm/daemon.sh stop|start slurmctld|slurmdbd [...]
#   stop    SIGTERM (then SIGKILL after 30 s) to each named daemon; jobs in the queue and running
#           jobs are left alone (slurmd and slurmstepd keep running them)
#   start   start each named daemon again and wait until it answers (slurmctld recovers its queue
#           from its saved state); a daemon that already runs is left as it is
# Needs root, like start.sh. The cluster's state folder is the one start.sh uses.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

usage="usage: $0 stop|start slurmctld|slurmdbd [...]"
(($# >= 2)) || die "$usage"
action=$1
shift
[ "$(id -u)" = 0 ] || die "stopping and starting daemons needs root (sudo $0 $action $*)"
for daemon in "$@"; do
    case $action:$daemon in
        stop:slurmctld | stop:slurmdbd) stop_daemon "$daemon" ;;
        start:slurmctld)
            running slurmctld || start_slurmctld || die "slurmctld did not start (see $DIR/log/slurmctld.log)"
            wait_for 30 ctld_up || die "slurmctld does not answer (see $DIR/log/slurmctld.log)" ;;
        start:slurmdbd)
            running slurmdbd || start_slurmdbd || die "slurmdbd did not start (see $DIR/log/slurmdbd.log)"
            wait_for 60 dbd_up || die "slurmdbd does not answer (see $DIR/log/slurmdbd.log)" ;;
        *) die "$usage" ;;
    esac
done
