#!/bin/bash
# start.sh [COMMAND...]: the entry point of every pyrlab image, run by tini.
# Without a command it starts Jupyter: `jupyter-lab` (or jupyter-$DOCKER_STACKS_JUPYTER_CMD, or
# jupyterhub-singleuser when JUPYTERHUB_API_TOKEN is set) with NOTEBOOK_ARGS. It honours the
# variables of jupyter/docker-stacks with the same meaning, and pyrlab's configuration folder.
#
# Started as root, it prepares the notebook user (NB_USER, NB_UID, NB_GID, NB_GROUP, CHOWN_HOME,
# CHOWN_EXTRA, GRANT_SUDO), runs the root hooks, reads the token and env files while it still can,
# then runs itself again as that user: nothing else runs as root, unless NB_UID=0 asks for it.
# As the user it sets NB_UMASK, runs the user hooks and the image's rc script, and starts.
set -euo pipefail

log() { echo "pyrlab: $*" >&2; }
# docker-stacks' switches take yes (or 1).
is_yes() { [[ ${1:-} == yes || ${1:-} == 1 ]]; }

CONFIG=${PYRLAB_CONFIG:-/home/jovyan/.pyrlab}
IMAGE_HOME=/home/jovyan

# Hook folders: *.sh files are sourced, other executable files run, in name order.
run_hooks() {
    local folder=$1 hook
    [[ -d $folder ]] || return 0
    for hook in "$folder"/*; do
        [[ -e $hook ]] || continue
        if [[ $hook == *.sh ]]; then
            log "sourcing $hook as $(id -un 2>/dev/null || id -u)"
            # shellcheck source=/dev/null
            source "$hook"
        elif [[ -x $hook ]]; then
            log "running $hook as $(id -un 2>/dev/null || id -u)"
            "$hook"
        else
            log "ignoring $hook: neither *.sh nor executable"
        fi
    done
}

# KEY=VALUE lines (# comments) exported as they are, never evaluated and never printed.
load_env_file() {
    local file=$1 line
    [[ -r $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            export "${BASH_REMATCH[2]}=${BASH_REMATCH[3]}"
        else
            log "ignoring a line of $file that is not KEY=VALUE"
        fi
    done <"$file"
    log "loaded the variables of $file"
}

as_root() {
    local user=${NB_USER:-jovyan} uid gid
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
    # `users` (gid 100) stays a group of the user: it owns the writable virtual environment.
    gpasswd --add jovyan users >/dev/null
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
        # shellcheck disable=SC2086 # the options are words
        chown ${CHOWN_HOME_OPTS:-} "$uid:$gid" "$IMAGE_HOME"
    fi
    if [[ -n ${CHOWN_EXTRA:-} ]]; then
        local extra
        IFS=, read -r -a extra <<<"$CHOWN_EXTRA"
        log "CHOWN_EXTRA: ${extra[*]} to $uid:$gid ${CHOWN_EXTRA_OPTS:-}"
        # shellcheck disable=SC2086 # the options are words
        chown ${CHOWN_EXTRA_OPTS:-} "$uid:$gid" "${extra[@]}"
    fi
    if is_yes "${GRANT_SUDO:-}"; then
        log "GRANT_SUDO: $user may use sudo without a password"
        echo "$user ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/pyrlab-grant-sudo
        chmod 0440 /etc/sudoers.d/pyrlab-grant-sudo
    fi

    run_hooks /usr/local/bin/start-notebook.d

    # Files that may be readable by root only (the host user's 0600 files): read them here.
    if [[ -n ${JUPYTER_TOKEN_FILE:-} && -z ${JUPYTER_TOKEN:-} ]]; then
        JUPYTER_TOKEN=$(<"$JUPYTER_TOKEN_FILE")
        export JUPYTER_TOKEN
        unset JUPYTER_TOKEN_FILE
    fi
    load_env_file "$CONFIG/${PYRLAB_IMAGE:-pyrlab}.env"
    if [[ ${PYRLAB_DEFAULT_COMMAND:-} == yes && -r $CONFIG/jupyter_password ]]; then
        password_config "$IMAGE_HOME"
        chown -R "$uid:$gid" "$IMAGE_HOME/.jupyter"
    fi

    export HOME=$home USER=$user LOGNAME=$user NB_USER=$user
    exec setpriv --reuid="$uid" --regid="$gid" --init-groups -- /usr/local/bin/start.sh "$@"
}

# A hashed password from `make password` becomes the user's Jupyter setting, asked for instead
# of a token. Written into the home (0600), never passed in the environment the kernels inherit.
password_config() {
    local home=$1 file=$CONFIG/jupyter_password
    [[ -r $file ]] || return 0
    mkdir -p "$home/.jupyter"
    (umask 077 && printf '{"PasswordIdentityProvider": {"hashed_password": "%s"}}\n' "$(<"$file")" \
        >"$home/.jupyter/jupyter_server_config.json")
    log "password login ($file)"
}

# HTTPS: a certificate and key mounted in the configuration folder (ssl/cert.pem, ssl/key.pem),
# or with GEN_CERT=yes a self-signed one made at the first start.
https_arguments() {
    local cert=$CONFIG/ssl/cert.pem key=$CONFIG/ssl/key.pem
    if [[ ! -r $cert || ! -r $key ]]; then
        is_yes "${GEN_CERT:-}" || return 0
        cert=$HOME/.local/share/jupyter/pyrlab-cert.pem
        key=$HOME/.local/share/jupyter/pyrlab-key.pem
        if [[ ! -r $cert ]]; then
            mkdir -p "$(dirname "$cert")"
            log "GEN_CERT: a self-signed certificate in $cert"
            (umask 077 && openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes -subj "/CN=pyrlab" \
                -keyout "$key" -out "$cert" 2>/dev/null)
        fi
    fi
    echo "--ServerApp.certfile=$cert --ServerApp.keyfile=$key"
}

# $1: "user" when the root stage ran before (it has read the env and password files then).
as_user() {
    local after_root=$1 default_command=${PYRLAB_DEFAULT_COMMAND:-}
    shift
    unset PYRLAB_DEFAULT_COMMAND
    if ! getent passwd "$(id -u)" >/dev/null; then
        # An arbitrary uid with no passwd entry (docker run --user 12345): a home it can write.
        if [[ ! -w ${HOME:-/} ]]; then
            HOME=/tmp/home-$(id -u)
            export HOME
            mkdir -p "$HOME"
            log "uid $(id -u) has no passwd entry: HOME=$HOME"
        fi
    fi
    if [[ -n ${NB_UMASK:-} ]]; then umask "$NB_UMASK"; fi
    if [[ $after_root != user ]]; then load_env_file "$CONFIG/${PYRLAB_IMAGE:-pyrlab}.env"; fi

    run_hooks /usr/local/bin/before-notebook.d
    local rc=$CONFIG/${PYRLAB_IMAGE:-pyrlab}.sh
    if [[ -r $rc ]]; then
        log "sourcing $rc"
        # shellcheck source=/dev/null
        source "$rc"
    fi

    if [[ $default_command == yes ]]; then
        if [[ -r $CONFIG/userlab.sh ]]; then
            log "starting $CONFIG/userlab.sh instead of Jupyter"
            exec bash "$CONFIG/userlab.sh"
        fi
        local https
        read -r -a https <<<"$(https_arguments)"
        set -- "$@" "${https[@]}"
        if [[ ${PYRLAB_AUTH:-} == none ]]; then
            log "WARNING: PYRLAB_AUTH=none: Jupyter asks for no token or password"
            set -- "$@" --IdentityProvider.token= --PasswordIdentityProvider.hashed_password=
        fi
        if [[ $after_root != user ]]; then password_config "$HOME"; fi
    fi
    if is_yes "${RESTARTABLE:-}"; then
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
    # NOTEBOOK_ARGS is split into words, as in jupyter/docker-stacks (no globbing).
    read -r -a notebook_args <<<"${NOTEBOOK_ARGS:-}"
    if [[ -n ${JUPYTERHUB_API_TOKEN:-} ]]; then
        set -- jupyterhub-singleuser "${notebook_args[@]}"
    else
        # jupyter-lab rather than `jupyter lab`: the same program, without the dispatcher's start-up.
        set -- "jupyter-${DOCKER_STACKS_JUPYTER_CMD:-lab}" "${notebook_args[@]}"
    fi
    export PYRLAB_DEFAULT_COMMAND=yes
fi

if [[ $(id -u) == 0 && ${PYRLAB_STAGE:-} != user ]]; then
    export PYRLAB_STAGE=user
    as_root "$@"
fi
after_root=${PYRLAB_STAGE:-}
unset PYRLAB_STAGE
as_user "$after_root" "$@"
