#!/bin/bash
# start.sh [COMMAND...]: the entry point of every pyrlab image, run by tini.
# Without a command it starts Jupyter: `jupyter-lab` (or jupyter-$DOCKER_STACKS_JUPYTER_CMD, or
# jupyterhub-singleuser when JUPYTERHUB_API_TOKEN is set) with NOTEBOOK_ARGS. It honours the
# variables of jupyter/docker-stacks with the same meaning, and pyrlab's configuration folder.
#
# A lab runs as the notebook user from its first process (`docker run --user UID:GID`, as
# `make pylab` and the team server start it); this script then has no privilege to give or drop.
# Started as root (docker-stacks' way: --user root with NB_UID, NB_USER, GRANT_SUDO...), it first
# prepares that user as docker-stacks does, then runs itself again as the user. The root stage
# reads no file the notebook user can write, and is safe to repeat (`docker restart`).
#
# As the user, everything this script decides (the command and its arguments, authentication,
# the prefix, origins, the umask, restarts) comes from the container's environment. The env file
# is never read here: Jupyter gives its variables to the kernels and terminals only.
# The token and password files are read by Jupyter's own process (jupyter_server_config.py).
set -euo pipefail

# Root that can switch users (docker-stacks' start as root) prepares the notebook user first. Root
# without that capability (a lab of a root-owned NOTEBOOKS, all capabilities dropped) is the
# notebook user itself.
can_switch_user() {
    local name value
    while read -r name value; do
        if [[ $name == CapEff: ]]; then (((16#$value >> 7) & 1)) && return 0; fi
    done </proc/self/status
    return 1
}
root_stage=no
if ((EUID == 0)) && [[ ${PYRLAB_STAGE:-} != user ]] && can_switch_user; then root_stage=yes; fi

# In the root stage, nothing inherited decides which code runs: a fixed search path of root-owned
# folders (not the notebook user's virtual environment), and no loader or shell start-up
# variables. Those of the container's own environment are handed to the user stage as they were.
if [[ $root_stage == yes ]]; then
    user_environment=("PATH=$PATH")
    for name in "${!LD_@}" BASH_ENV ENV; do
        if [[ -v $name ]]; then
            user_environment+=("$name=${!name}")
            unset "$name"
        fi
    done
    PATH=/usr/sbin:/usr/bin:/sbin:/bin
    export PATH
    hash -r
fi

log() { echo "pyrlab: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
# docker-stacks' switches take yes (or 1).
is_yes() { [[ ${1:-} == yes || ${1:-} == 1 ]]; }

CONFIG=${PYRLAB_CONFIG:-/home/jovyan/.pyrlab}
IMAGE_HOME=/home/jovyan

# Hook folders, as jupyter/docker-stacks runs them: *.sh files are sourced, other executable
# files run, in name order; a hook that fails is logged and the start goes on (a sourced hook runs
# without this script's errexit and nounset, which it may set for itself).
run_hooks() {
    local folder=$1 hook status
    [[ -d $folder ]] || return 0
    log "running the hooks in $folder as uid $EUID"
    for hook in "$folder"/*; do
        [[ -e $hook ]] || continue
        if [[ $hook == *.sh ]]; then
            log "sourcing $hook"
            set +eu
            # shellcheck source=/dev/null
            source "$hook"
            status=$?
            set -eu
        elif [[ -x $hook ]]; then
            log "running $hook"
            status=0
            "$hook" || status=$?
        else
            log "ignoring $hook: neither *.sh nor executable"
            continue
        fi
        if ((status != 0)); then log "$hook has failed (status $status), continuing"; fi
    done
}

# NOTEBOOK_ARGS split into words as docker-stacks splits it (Python's shlex: quotes group words),
# by the system's Python, never evaluated by a shell.
split_notebook_args() {
    local split='import shlex, sys
sys.stdout.write("".join(word + "\0" for word in shlex.split(sys.argv[1])))'
    if ! /usr/local/sbin/pyrlab-system-python -I -c "$split" "$1" >/dev/null 2>&1; then
        die "NOTEBOOK_ARGS=$1: a quote is not closed"
    fi
    mapfile -d '' -t notebook_args < <(/usr/local/sbin/pyrlab-system-python -I -c "$split" "$1")
}

# The identity files as the image made them, kept at the first start and put back at every
# later one, so that a second start (a renamed user, other ids) begins from the same state.
restore_identity_files() {
    local saved=/var/lib/pyrlab/identity
    if [[ -d $saved ]]; then
        cp -p "$saved"/{passwd,group,shadow,gshadow} /etc/
    else
        # Copied whole, then renamed: a start stopped halfway leaves no partial copy.
        rm -rf "$saved.new"
        mkdir -p "${saved%/*}"
        mkdir -m 0700 "$saved.new"
        cp -p /etc/{passwd,group,shadow,gshadow} "$saved.new/"
        mv "$saved.new" "$saved"
    fi
    rm -f /etc/sudoers.d/pyrlab-grant-sudo
}

# chown that never follows a symbolic link, whatever the options (-h for the named path itself,
# -P for everything below it with -R; the last option wins).
chown_no_links() {
    local options=$1 owner=$2
    shift 2
    # shellcheck disable=SC2086 # the options are words
    chown $options -h -P "$owner" -- "$@"
}

# docker-stacks' start as root: the notebook user gets NB_USER, NB_UID, NB_GID (and sudo with
# GRANT_SUDO), the home is re-owned, the hooks run as root, then root is dropped for good.
as_root() {
    local user=${NB_USER:-jovyan} uid gid
    restore_identity_files
    uid=${NB_UID:-$(id -u jovyan)}
    gid=${NB_GID:-$(id -g jovyan)}
    if [[ $uid == 0 ]]; then log "NB_UID=0: the notebook user is root"; fi

    # usermod is not used: --uid and --gid also re-own files under the home, mounted folders
    # included. The passwd entry is edited, and the home re-owned without crossing mounts.
    if [[ -n ${NB_GROUP:-} ]] && ! getent group "$NB_GROUP" >/dev/null; then
        groupadd --non-unique --gid "$gid" "$NB_GROUP"
    elif ! getent group "$gid" >/dev/null; then
        groupadd --gid "$gid" "$user"
    fi
    local home=$IMAGE_HOME
    if [[ $user != jovyan ]]; then
        log "notebook user jovyan -> $user (home /home/$user, the same folder)"
        ln -sfn "$IMAGE_HOME" "/home/$user"
        home=/home/$user
        sed -i -E "s/^jovyan:/${user}:/" /etc/shadow
        sed -i -E "s/(^|,|:)jovyan(,|$)/\1${user}\2/" /etc/group /etc/gshadow
    fi
    sed -i -E "s|^jovyan:([^:]*):[0-9]+:[0-9]+:([^:]*):[^:]*:|${user}:\1:${uid}:${gid}:\2:${home}:|" /etc/passwd

    local prune=() mountpoint
    while read -r mountpoint; do
        prune+=(-path "$mountpoint" -prune -o)
    done < <(awk -v home="$IMAGE_HOME/" 'index($5, home) == 1 { print $5 }' /proc/self/mountinfo)
    find "$IMAGE_HOME" -xdev "${prune[@]}" \( ! -uid "$uid" -o ! -gid "$gid" \) -exec chown -h "$uid:$gid" {} +

    if is_yes "${CHOWN_HOME:-}"; then
        log "CHOWN_HOME: $home to $uid:$gid ${CHOWN_HOME_OPTS:-}"
        chown_no_links "${CHOWN_HOME_OPTS:-}" "$uid:$gid" "$IMAGE_HOME"
    fi
    if [[ -n ${CHOWN_EXTRA:-} ]]; then
        local extra
        IFS=, read -r -a extra <<<"$CHOWN_EXTRA"
        log "CHOWN_EXTRA: ${extra[*]} to $uid:$gid ${CHOWN_EXTRA_OPTS:-}"
        chown_no_links "${CHOWN_EXTRA_OPTS:-}" "$uid:$gid" "${extra[@]}"
    fi
    local drop=(--no-new-privs)
    if is_yes "${GRANT_SUDO:-}"; then
        log "GRANT_SUDO: $user may use sudo without a password, and so become root in this container"
        echo "$user ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/pyrlab-grant-sudo
        chmod 0440 /etc/sudoers.d/pyrlab-grant-sudo
        drop=()
    fi

    # As in docker-stacks: started as root, the hooks run as root, last before the drop.
    run_hooks /usr/local/bin/start-notebook.d
    run_hooks /usr/local/bin/before-notebook.d

    export HOME=$home USER=$user LOGNAME=$user NB_USER=$user PYRLAB_HOOKS_DONE=yes
    exec /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups "${drop[@]}" -- \
        /usr/bin/env "${user_environment[@]}" /usr/local/bin/start.sh "$@"
}

# The first of TMPDIR, /tmp and /dev/shm this user can write: with a read-only root file system,
# /dev/shm is still there.
writable_scratch() {
    local folder
    for folder in "${TMPDIR:-/tmp}" /tmp /dev/shm; do
        if [[ -d $folder && -w $folder ]]; then
            echo "$folder"
            return 0
        fi
    done
    die "no writable folder for Jupyter's runtime files (TMPDIR, /tmp, /dev/shm): mount one, e.g. --tmpfs /tmp"
}

# A uid with no passwd entry (the host user's, as `make pylab` and the team server give it) is
# named the notebook user through nss_wrapper: `id`, `whoami`, the shell's prompt and the tools
# that look the user up see jovyan with this uid and HOME. /etc/passwd stays root's.
name_the_user() {
    getent passwd "$EUID" >/dev/null && return 0
    local wrapper=(/usr/lib/*/libnss_wrapper.so) folder user=${NB_USER:-jovyan} gid
    [[ -e ${wrapper[0]} ]] || return 0
    folder=$(writable_scratch)/pyrlab-nss-$EUID
    [[ -d $folder ]] || mkdir -m 0700 "$folder"
    [[ -O $folder && ! -L $folder ]] || die "$folder is not this user's (uid $EUID): remove it"
    gid=$(id -g)
    sed -E "s|^$user:([^:]*):[0-9]+:[0-9]+:([^:]*):[^:]*:|$user:\1:$EUID:$gid:\2:$HOME:|" /etc/passwd >"$folder/passwd"
    cp /etc/group "$folder/group"
    if ! getent group "$gid" >/dev/null; then echo "$user:x:$gid:" >>"$folder/group"; fi
    export LD_PRELOAD=${wrapper[0]}${LD_PRELOAD:+:$LD_PRELOAD} NSS_WRAPPER_PASSWD=$folder/passwd NSS_WRAPPER_GROUP=$folder/group
}

# HOME is the image's home when this user can write it (its owner, or a member of group users, or
# a volume mounted there); otherwise (any uid, a read-only root, a volume the user cannot write)
# Jupyter's runtime files, config and settings go to a private folder under TMPDIR, said once.
choose_home() {
    if [[ -w $IMAGE_HOME ]]; then
        HOME=$IMAGE_HOME
    else
        local scratch
        scratch=$(writable_scratch)
        HOME=$scratch/pyrlab-home-$EUID
        [[ -d $HOME ]] || mkdir -m 0700 "$HOME"
        [[ -O $HOME && ! -L $HOME ]] || die "$HOME is not this user's (uid $EUID): remove it"
        export TMPDIR=$scratch
        log "$IMAGE_HOME is not writable by uid $EUID: HOME, Jupyter's runtime files and settings are in $HOME (lost with the container)"
    fi
    export HOME
    name_the_user
    export USER=${USER:-${NB_USER:-jovyan}} LOGNAME=${LOGNAME:-${NB_USER:-jovyan}}
    if [[ ! -w $CONFIG ]] && ! mkdir -p "$CONFIG" 2>/dev/null; then
        export JUPYTERLAB_SETTINGS_DIR=$HOME/.pyrlab/lab/user-settings JUPYTERLAB_WORKSPACES_DIR=$HOME/.pyrlab/lab/workspaces
    fi
}

# HTTPS: a certificate and key mounted in the configuration folder (ssl/cert.pem, ssl/key.pem),
# or with GEN_CERT=yes a self-signed one made at the first start.
https_arguments() {
    local cert=$CONFIG/ssl/cert.pem key=$CONFIG/ssl/key.pem
    if [[ ! -f $cert || ! -r $cert || ! -f $key || ! -r $key ]]; then
        is_yes "$gen_cert" || return 0
        cert=$HOME/.local/share/jupyter/pyrlab-cert.pem
        key=$HOME/.local/share/jupyter/pyrlab-key.pem
        if [[ ! -f $cert ]]; then
            mkdir -p "$(dirname "$cert")"
            log "GEN_CERT: a self-signed certificate in $cert"
            (umask 077 && openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes -subj "/CN=pyrlab" \
                -keyout "$key" -out "$cert" 2>/dev/null)
        fi
    fi
    echo "--ServerApp.certfile=$cert --ServerApp.keyfile=$key"
}

as_user() {
    # Everything decided here comes from the container's environment, read once, here.
    local default_command=${PYRLAB_DEFAULT_COMMAND:-} auth=${PYRLAB_AUTH:-} hooks_done=${PYRLAB_HOOKS_DONE:-}
    local prefix=${NB_PREFIX:-} allow_origin=${NB_ALLOW_ORIGIN:-} gen_cert=${GEN_CERT:-}
    local restartable=${RESTARTABLE:-} umask_value=${NB_UMASK:-} to_unset=${JUPYTER_ENV_VARS_TO_UNSET:-}
    local token=${JUPYTER_TOKEN:-} token_file=${JUPYTER_TOKEN_FILE:-}
    unset PYRLAB_DEFAULT_COMMAND PYRLAB_AUTH PYRLAB_HOOKS_DONE JUPYTER_TOKEN JUPYTER_TOKEN_FILE
    if [[ $hooks_done != yes ]]; then
        choose_home
        # Started as this user: docker-stacks runs both hook folders as the user the container started as.
        run_hooks /usr/local/bin/start-notebook.d
        run_hooks /usr/local/bin/before-notebook.d
    fi

    if [[ $default_command == yes ]]; then
        local https
        read -r -a https <<<"$(https_arguments)"
        set -- "$@" "${https[@]}"
        if [[ $auth == none ]]; then
            log "WARNING: PYRLAB_AUTH=none: Jupyter asks for no token or password"
            set -- "$@" --IdentityProvider.token= --PasswordIdentityProvider.hashed_password=
        fi
        if [[ -n $prefix ]]; then
            # Kubeflow Notebooks: its gateway authenticates and proxies $NB_PREFIX to port 8888,
            # as the notebook controller expects of every image (its port, whatever JUPYTER_PORT says). Behind it the Host header is the
            # page's, so Jupyter's same-origin check holds; NB_ALLOW_ORIGIN widens it on purpose.
            log "NB_PREFIX=$prefix: serving Kubeflow's way on 0.0.0.0:8888 under it, authentication left to its gateway"
            set -- "$@" "--ServerApp.base_url=$prefix" --ServerApp.ip=0.0.0.0 --ServerApp.port=8888 \
                --IdentityProvider.token= --PasswordIdentityProvider.hashed_password= \
                --ServerApp.allow_remote_access=True
        fi
        if [[ -n $allow_origin ]]; then
            log "NB_ALLOW_ORIGIN=$allow_origin: pages of that origin may use this lab"
            set -- "$@" "--ServerApp.allow_origin=$allow_origin"
        fi
    fi
    if [[ -n $umask_value ]]; then umask "$umask_value"; fi

    # Handed to Jupyter's process only: jupyter_server_config.py reads them, and gives the env
    # file's variables to the kernels and terminals (never to the server, nor to this script).
    export PYRLAB_ENV_FILE=$CONFIG/${PYRLAB_IMAGE:-pyrlab}.env
    if [[ -n $token ]]; then export JUPYTER_TOKEN=$token; fi
    if [[ -n $token_file ]]; then export JUPYTER_TOKEN_FILE=$token_file; fi
    if [[ $default_command == yes && -e $CONFIG/jupyter_password ]]; then
        export PYRLAB_PASSWORD_FILE=$CONFIG/jupyter_password
        log "password login ($CONFIG/jupyter_password)"
    fi

    # Only regular files: a FIFO put in their place from the lab would hang the start.
    local rc=$CONFIG/${PYRLAB_IMAGE:-pyrlab}.sh
    if [[ -f $rc && -r $rc ]]; then
        log "sourcing $rc"
        # shellcheck source=/dev/null
        source "$rc"
    fi
    if [[ $default_command == yes && -f $CONFIG/userlab.sh && -r $CONFIG/userlab.sh ]]; then
        log "starting $CONFIG/userlab.sh instead of Jupyter"
        exec bash "$CONFIG/userlab.sh"
    fi

    # JUPYTER_ENV_VARS_TO_UNSET: names (comma-separated) removed just before the command starts.
    local names name
    read -r -a names <<<"${to_unset//,/ }"
    for name in "${names[@]}"; do
        if [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            log "unsetting $name (JUPYTER_ENV_VARS_TO_UNSET)"
            unset "$name"
        fi
    done
    unset JUPYTER_ENV_VARS_TO_UNSET

    if is_yes "$restartable"; then
        # The server runs as a child, restarted whenever it exits; SIGTERM stops both.
        trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
        while true; do
            "$@" &
            child=$!
            local status=0
            wait "$child" || status=$?
            log "$1 exited with status $status; RESTARTABLE=yes starts it again"
            sleep 1
        done
    fi
    exec "$@"
}

if (($# == 0)); then
    notebook_args=()
    if [[ -n ${NOTEBOOK_ARGS:-} ]]; then split_notebook_args "$NOTEBOOK_ARGS"; fi
    if [[ -n ${JUPYTERHUB_API_TOKEN:-} ]]; then
        set -- jupyterhub-singleuser "${notebook_args[@]}"
    else
        # jupyter-lab rather than `jupyter lab`: the same program, without the dispatcher's start-up.
        set -- "jupyter-${DOCKER_STACKS_JUPYTER_CMD:-lab}" "${notebook_args[@]}"
    fi
    export PYRLAB_DEFAULT_COMMAND=yes
fi

if [[ $root_stage == yes ]]; then
    export PYRLAB_STAGE=user
    as_root "$@"
fi
unset PYRLAB_STAGE
as_user "$@"
