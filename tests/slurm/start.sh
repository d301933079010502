#!/usr/bin/env bash
# Start a real one-node Slurm 22.05 cluster on localhost from Debian 12's packages, for tests of
# the Slurm executor: in CI on a fresh machine, or by hand.
#
# Usage: tests/slurm/start.sh [--accounting|--no-accounting]
#   --accounting      (default) slurmdbd on a private MariaDB, so that sacct answers for jobs
#   --no-accounting   no database: sacct exits 1 ("accounting storage is disabled"); finished
#                     jobs are logged to <dir>/jobcomp.log instead
#
# Runs as root: it installs the missing packages (apt-get), then starts by hand, in order,
# munged, MariaDB and slurmdbd (with accounting), slurmctld and slurmd, waits for the node to be
# idle and runs a one-job smoke test. Running it again when the cluster is already up in the
# requested mode does nothing (and then needs no root); in the other mode, it restarts only the
# daemons it started, into the requested mode. Stop the cluster with tests/slurm/stop.sh.
#
# Everything (configs, spool, pid files, logs, MariaDB's data) lives in one folder,
# <dir> = $NERTRANSFER_SLURM_DIR, default /tmp/nertransfer-slurm; nothing under /etc is touched.
# The Slurm commands find the cluster through SLURM_CONF=<dir>/etc/slurm.conf. Progress goes to
# stderr; stdout carries only shell, a comment and last `export SLURM_CONF=...`, so
#     eval "$(sudo tests/slurm/start.sh)"      or later      source <dir>/env.sh
# Ports on 127.0.0.1: slurmctld 6817, slurmd 6818, slurmdbd 6819 (Slurm's defaults) and MariaDB
# $NERTRANSFER_SLURM_DB_PORT (default 6820); they must be free. munged and MariaDB are private
# instances (own socket, key, data), so system ones, if any, are neither used nor disturbed.

set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

ACCOUNTING=1
for arg in "$@"; do
    case $arg in
        --accounting) ACCOUNTING=1 ;;
        --no-accounting) ACCOUNTING=0 ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg'; usage: $0 [--accounting|--no-accounting]" ;;
    esac
done
if ((ACCOUNTING)); then
    MODE=accounting
    DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
else
    MODE=no-accounting
    DAEMONS=(munged slurmctld slurmd)
fi

CLUSTER=nertransfer
NODE=$(hostname -s 2>/dev/null || uname -n)
NODE=${NODE%%.*}
CPUS=$(nproc)
MEM_MB=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# Below what slurmd measures, or the node is drained for "low RealMemory".
REAL_MEM=$((MEM_MB * 9 / 10))
DB_PORT=${NERTRANSFER_SLURM_DB_PORT:-6820}
DB_SOCKET=$DIR/mariadb/mariadb.sock
MUNGE_SOCKET=$DIR/munge/munge.socket
# Throwaway credentials: the database listens on 127.0.0.1 only and holds nothing else.
DB_USER=slurm DB_PASS=slurm DB_NAME=slurm_acct_db

slurm_conf() {
    cat <<CONF
# Written by tests/slurm/start.sh ($MODE): a one-node cluster on localhost for tests.
ClusterName=$CLUSTER
# Addresses are explicit so that nothing depends on the host name resolving.
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
# Root runs everything: simplest, and this cluster only ever serves tests on this machine.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Our own munged (socket in the state folder), so that a system munged, if any, is left alone.
# cred_expire=5 (default 120): a requeued job may only start again once its old credential has
# expired, so requeue tests would otherwise wait two minutes.
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=5
StateSaveLocation=$DIR/spool/slurmctld
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: there is no systemd here, and CI often runs in a container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# No mail from --mail-type.
MailProg=/bin/true
# CPUs and memory are consumable, so that jobs share the node as on a real cluster.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job that asks for no memory takes the whole node's.
DefMemPerCPU=$((REAL_MEM / CPUS))
# Schedule at once on submission (batch_sched_delay, default 3 s) and retry pending jobs every
# second (sched_interval, default 60 s; bf_interval, default 30 s).
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
# Send the job's --signal (as submitit asks for) when it is preempted, not only near its end.
SlurmctldParameters=preempt_send_user_signal
# SIGTERM to SIGKILL in 5 s (default 30 s) when a job is cancelled or runs out of time.
KillWait=5
# Finished jobs stay known to slurmctld (scontrol show job, squeue -t all) for 5 minutes: without
# accounting, that is how a test learns how a job ended. (300 is the default, made explicit.)
MinJobAge=300
JobRequeue=1
# A node that went down returns to service as soon as its slurmd registers again.
ReturnToService=2
# Trust this file's CPUs and RealMemory even if the hardware's topology (threads) differs.
SlurmdParameters=config_overrides
InactiveLimit=0
Waittime=0
# A fake GPU (see gres.conf): jobs with --gres=gpu:1 or --gpus=1 are accepted and run, with
# CUDA_VISIBLE_DEVICES set.
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
CONF
    if ((ACCOUNTING)); then
        cat <<CONF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
# Not a password: with munge, the socket of the munged that signs messages to slurmdbd (which
# does not follow AuthInfo's socket=).
AccountingStoragePass=$MUNGE_SOCKET
AccountingStorageTRES=gres/gpu
CONF
    else
        cat <<CONF
# No database: sacct says "accounting storage is disabled"; finished jobs go to jobcomp.log.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
CONF
    fi
    cat <<CONF
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$REAL_MEM Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

gres_conf() {
    cat <<CONF
# Written by tests/slurm/start.sh. One fake GPU. Detection is off (nothing to detect), and the
# GPU needs a File that is a device: a regular file is rejected, and a bare Count drains the node.
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null
CONF
}

slurmdbd_conf() {
    cat <<CONF
# Written by tests/slurm/start.sh.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
# TCP to our private MariaDB: slurmdbd cannot be given a Unix socket's path.
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
CONF
}

# True when <dir>/etc/$1 holds exactly $2.
conf_current() { [ -r "$DIR/etc/$1" ] && [ "$(< "$DIR/etc/$1")" = "$2" ]; }

write_conf() {  # name mode text
    local tmp=$DIR/etc/.$1.tmp
    printf '%s\n' "$3" > "$tmp"
    chmod "$2" "$tmp"
    mv -f "$tmp" "$DIR/etc/$1"
}

node_state() { timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1; }

node_ready() {
    case $(node_state) in idle | mixed | allocated | completing) return 0 ;; esac
    return 1
}

# Up in the requested mode, with these very configs.
is_up() {
    local d
    conf_current slurm.conf "$SLURM_CONF_TEXT" && conf_current gres.conf "$GRES_CONF_TEXT" || return 1
    for d in "${DAEMONS[@]}"; do running "$d" || return 1; done
    node_ready
}

report() {
    printf '# Slurm cluster %s (%s) on node %s, state in %s: %s\n' "$CLUSTER" "$MODE" "$NODE" "$DIR" "$1"
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
}

# fail MESSAGE LOG...: say what failed, with the end of the logs that tell why, and exit 1.
fail() {
    local f
    log "ERROR: $1"
    shift
    for f in "$@"; do
        [ -s "$f" ] || continue
        printf -- '---- last lines of %s ----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

SLURM_CONF_TEXT=$(slurm_conf)
GRES_CONF_TEXT=$(gres_conf)

if is_up; then
    report "already up, nothing to do"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "the cluster is not up in mode $MODE; starting it needs root (sudo $0 $*)"

mkdir -p "$DIR"
touch "$DIR/.nertransfer-slurm"  # marks the folder as ours, for stop.sh --purge
# One start or stop at a time. Daemons must not inherit fd 9, or they would hold the lock.
exec 9>> "$DIR/.lock"
flock -w 900 9 || die "another start.sh or stop.sh holds $DIR/.lock"
if is_up; then
    report "already up, nothing to do"
    exit 0
fi

log "starting Slurm ($MODE) in $DIR"

# ---- packages ---------------------------------------------------------------------------
PACKAGES=(slurmctld slurmd slurm-client munge)
((ACCOUNTING)) && PACKAGES+=(slurmdbd mariadb-server)
missing=()
for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2> /dev/null)" = installed ] || missing+=("$p")
done
if ((${#missing[@]})); then
    t=$SECONDS
    log "installing ${missing[*]}"
    updated=0
    if ! apt-cache show "${missing[@]}" > /dev/null 2>&1; then
        apt-get update -q >&2
        updated=1
    fi
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 9>&-
    }
    # A stale package list may name versions the mirror no longer has: update once and retry.
    apt_install || { ((!updated)) && apt-get update -q >&2 && apt_install; } ||
        die "could not install ${missing[*]}"
    log "installed in $((SECONDS - t)) s"
fi

# ---- configs ----------------------------------------------------------------------------
mkdir -p "$DIR"/{etc,run,log,spool/slurmctld,spool/slurmd}
# A changed slurm.conf (such as the other mode) needs slurmctld and slurmd restarted.
if ! conf_current slurm.conf "$SLURM_CONF_TEXT" || ! conf_current gres.conf "$GRES_CONF_TEXT"; then
    stop_daemon slurmd
    stop_daemon slurmctld
fi
if ((ACCOUNTING)); then
    SLURMDBD_CONF_TEXT=$(slurmdbd_conf)
    conf_current slurmdbd.conf "$SLURMDBD_CONF_TEXT" || stop_daemon slurmdbd
    # slurmdbd refuses a slurmdbd.conf that others may read (it holds the database password).
    write_conf slurmdbd.conf 600 "$SLURMDBD_CONF_TEXT"
else
    stop_daemon slurmdbd
    stop_daemon mariadbd
fi
write_conf slurm.conf 644 "$SLURM_CONF_TEXT"
write_conf gres.conf 644 "$GRES_CONF_TEXT"
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" > "$DIR/env.sh"
echo "$MODE" > "$DIR/mode"

# ---- munge ------------------------------------------------------------------------------
# Our own munged, as the munge user (made by the package) like Debian's service, with its own key
# and socket, so that it needs nothing from /etc/munge or /run/munge (no systemd creates the
# latter here). 10 threads, as Slurm advises: two (the default) can stall a busy controller.
if ! running munged; then
    install -d -o munge -g munge -m 755 "$DIR/munge"
    key=$DIR/munge/munge.key
    [ -s "$key" ] || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    chown munge:munge "$key"
    chmod 400 "$key"
    log "starting munged"
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --key-file="$key" \
        --pid-file="$(pidfile munged)" --log-file="$DIR/munge/munged.log" \
        --seed-file="$DIR/munge/munged.seed" --num-threads=10 < /dev/null > /dev/null 2>> "$DIR/log/munged.err" 9>&- ||
        fail "munged did not start" "$DIR/log/munged.err" "$DIR/munge/munged.log"
fi
munge_works() { munge -n --socket="$MUNGE_SOCKET" | unmunge --socket="$MUNGE_SOCKET"; }
wait_for 10 munge_works || fail "munged does not answer on $MUNGE_SOCKET" "$DIR/munge/munged.log"

# ---- MariaDB and slurmdbd ---------------------------------------------------------------
if ((ACCOUNTING)); then
    # shellcheck disable=SC2120  # wait_for passes it arguments
    mysql_root() { mariadb --no-defaults --socket="$DB_SOCKET" -u root "$@"; }
    if ! running mariadbd; then
        mkdir -p "$DIR/mariadb"
        if [ ! -e "$DIR/mariadb/.initialised" ]; then
            log "creating MariaDB's data folder"
            rm -rf "$DIR/mariadb/data"
            mariadb-install-db --no-defaults --user=root --datadir="$DIR/mariadb/data" \
                --auth-root-authentication-method=socket --skip-test-db \
                > "$DIR/log/mariadb-install.log" 2>&1 9>&- ||
                fail "mariadb-install-db failed" "$DIR/log/mariadb-install.log"
            touch "$DIR/mariadb/.initialised"
        fi
        log "starting MariaDB on 127.0.0.1:$DB_PORT"
        # --no-defaults: ignore /etc/mysql, so that a system MariaDB's settings do not apply.
        # The InnoDB settings are those Slurm's accounting guide asks for (lock wait 900 s), with
        # a small buffer pool: this database holds a few test jobs.
        setsid mariadbd --no-defaults --user=root --datadir="$DIR/mariadb/data" \
            --socket="$DB_SOCKET" --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
            --pid-file="$(pidfile mariadbd)" --log-error="$DIR/log/mariadb.log" \
            --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
            < /dev/null >> "$DIR/log/mariadb.log" 2>&1 9>&- &
        wait_for 60 mysql_root -e 'SELECT 1' || fail "MariaDB did not start" "$DIR/log/mariadb.log"
        wait_for 10 running mariadbd || fail "MariaDB wrote no pid file" "$DIR/log/mariadb.log"
        # MariaDB writes it mode 660; others need to read it to see that the cluster is up.
        chmod 644 "$(pidfile mariadbd)"
    fi
    mysql_root <<SQL || fail "could not create the slurm database user" "$DIR/log/mariadb.log"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
SQL

    running slurmdbd || start_slurmdbd || fail "slurmdbd did not start" "$DIR/log/slurmdbd.log"
    # The first start creates the tables, which takes a while.
    wait_for 90 sacctmgr -n -P list cluster ||
        fail "slurmdbd does not answer" "$DIR/log/slurmdbd.log" "$DIR/log/mariadb.log"
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        log "registering cluster $CLUSTER"
        sacctmgr -i add cluster "$CLUSTER" >&2 || fail "sacctmgr add cluster failed" "$DIR/log/slurmdbd.log"
    fi
fi

# ---- slurmctld and slurmd ---------------------------------------------------------------
running slurmctld || start_slurmctld || fail "slurmctld did not start" "$DIR/log/slurmctld.log"
wait_for 30 ctld_up || fail "slurmctld does not answer" "$DIR/log/slurmctld.log"

if ! running slurmd; then
    log "starting slurmd"
    slurmd -f "$SLURM_CONF" -N "$NODE" < /dev/null > /dev/null 2>> "$DIR/log/slurmd.log" 9>&- ||
        fail "slurmd did not start" "$DIR/log/slurmd.log"
fi
resumed=0
end=$((SECONDS + 30))
until node_ready; do
    state=$(node_state)
    # A drain kept in slurmctld's saved state (from an earlier run, or by hand): clear it once.
    # A node that drains again on registering (a config it rejects) fails below, with the reason.
    if [[ $state == drain* ]] && ((!resumed)); then
        log "node $NODE is $state ($(scontrol show node "$NODE" | grep -o 'Reason=.*')); resuming it"
        scontrol update nodename="$NODE" state=resume >&2 || true
        resumed=1
    fi
    if ((SECONDS >= end)); then
        scontrol show node "$NODE" >&2 || true
        fail "node $NODE is not idle but '$state' after 30 s" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"
    fi
    sleep 0.2
done

# ---- smoke test -------------------------------------------------------------------------
rm -f "$DIR/smoke.out"
# shellcheck disable=SC2016  # expanded by the job
job=$(sbatch --parsable --job-name=smoke --gres=gpu:1 --time=1 -D "$DIR" -o "$DIR/smoke.out" \
    --wrap 'echo ok; echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}"') ||
    fail "sbatch failed" "$DIR/log/slurmctld.log"
job=${job%%;*}
job_state() { scontrol -o show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
end=$((SECONDS + 60))
while :; do
    state=$(job_state)
    case $state in
        COMPLETED) break ;;
        PENDING | CONFIGURING | RUNNING | COMPLETING | "") ;;
        *) fail "smoke job $job ended $state" "$DIR/smoke.out" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" ;;
    esac
    ((SECONDS < end)) || fail "smoke job $job is still $state after 60 s" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"
    sleep 0.2
done
grep -qx ok "$DIR/smoke.out" || fail "smoke job $job did not print ok" "$DIR/smoke.out"
grep -Eqx 'CUDA_VISIBLE_DEVICES=[0-9,]+' "$DIR/smoke.out" ||
    fail "smoke job $job saw no CUDA_VISIBLE_DEVICES" "$DIR/smoke.out" "$DIR/log/slurmd.log"
if ((ACCOUNTING)); then
    # sacct lags squeue by 2-3 s: until slurmctld has sent the job's start record, slurmdbd
    # shows a placeholder (JobName "allocation", User root, State PENDING even while it runs).
    sacct_done() { [ "$(sacct -j "$job" -n -P -X -o JobName,State)" = "smoke|COMPLETED" ]; }
    wait_for 30 sacct_done || fail "sacct does not report smoke job $job COMPLETED" \
        "$DIR/log/slurmdbd.log" "$DIR/log/slurmctld.log"
fi
log "smoke job $job ran: $(tr '\n' ' ' < "$DIR/smoke.out")"

log "up in $SECONDS s"
report "started in $SECONDS s"
