#!/bin/bash
# start.sh [COMMAND...]: the entry point of every pyrlab image, run by tini.
# Without a command it starts Jupyter: `jupyter-lab` (or jupyter-$DOCKER_STACKS_JUPYTER_CMD, or
# jupyterhub-singleuser when JUPYTERHUB_API_TOKEN is set) with NOTEBOOK_ARGS. It honours the
# variables of jupyter/docker-stacks with the same meaning, and pyrlab's configuration folder.
#
# Started as root, it prepares the notebook user (NB_USER, NB_UID, NB_GID, NB_GROUP, CHOWN_HOME,
# CHOWN_EXTRA, GRANT_SUDO), runs the hooks (start-notebook.d, then before-notebook.d, as root, as
# docker-stacks does; they are the image's, root's files), reads the token and password files, then runs
# itself again as that user: nothing else runs as root, unless NB_UID=0 asks for it. The root
# stage reads nothing the notebook user can write (that would make the user's code root's), and
# is safe to repeat (`docker restart`, a spawner reusing a stopped container).
# As the user it loads the env file, sets NB_UMASK, runs before-notebook.d when no root stage ran,
# and the rc script, unsets JUPYTER_ENV_VARS_TO_UNSET, and starts.
set -euo pipefail

# As root, nothing inherited decides which code runs: a fixed search path of root-owned folders
# (not the notebook user's virtual environment), and no loader or shell start-up variables. Those
# of the container's own environment are handed to the user stage as they were.
if ((EUID == 0)) && [[ ${PYRLAB_STAGE:-} != user ]]; then
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
# Fixed at the start, before any file of the user is read: what the env file or rc script sets
# later does not switch authentication off.
AUTH=${PYRLAB_AUTH:-}
unset PYRLAB_AUTH

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

# JUPYTER_ENV_VARS_TO_UNSET: names (comma-separated) removed just before the command starts.
unset_listed_variables() {
    local names name
    read -r -a names <<<"${JUPYTER_ENV_VARS_TO_UNSET//,/ }"
    for name in "${names[@]}"; do
        if [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            log "unsetting $name (JUPYTER_ENV_VARS_TO_UNSET)"
            unset "$name"
        fi
    done
    unset JUPYTER_ENV_VARS_TO_UNSET
}

# KEY=VALUE lines (# comments) exported as they are, never evaluated and never printed. Read as
# the notebook user only. Keys of Jupyter's and pyrlab's own settings are refused: the env file
# must not switch authentication off or point Jupyter elsewhere.
load_env_file() {
    local file=$1 line number=0 key value
    [[ -r $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        number=$((number + 1))
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
            if [[ $key == PYRLAB_* || $key == JUPYTER_* || $key == JUPYTERHUB_* ]]; then
                log "$file:$number: $key is refused here: Jupyter's and pyrlab's settings come from make (AUTH, DOCKER_ARGS), not the env file"
                continue
            fi
            export "$key=$value"
        else
            log "$file:$number: ignored, not KEY=VALUE"
        fi
    done <"$file"
    log "loaded the variables of $file"
}

# Prints a file that root may trust: a regular file, not a symbolic link, owned by root or by the
# owner of its folder, and neither it nor its folder writable by anyone else. Opened once; the
# checks are made on what was opened, so a link swapped in between is caught too.
read_trusted_file() {
    local file=$1 folder fd opened owner mode folder_owner folder_mode
    [[ ! -L $file ]] || die "$file is a symbolic link: give the file itself"
    folder=$(readlink -f -- "$(dirname -- "$file")")
    exec {fd}<"$file" || die "cannot read $file"
    opened=$(readlink "/proc/self/fd/$fd")
    [[ $opened == "$folder/$(basename -- "$file")" ]] || die "$file changed while it was read"
    read -r owner mode < <(stat -L -c '%u %a' "/proc/self/fd/$fd")
    read -r folder_owner folder_mode < <(stat -c '%u %a' "$folder")
    [[ -f /proc/self/fd/$fd ]] || die "$file is not a regular file"
    if [[ $owner != 0 && $owner != "$folder_owner" ]]; then
        die "$file belongs to uid $owner, not to the owner of $folder: chown it to yourself"
    fi
    if ((8#$mode & 8#022 || 8#$folder_mode & 8#022)); then
        die "$file or its folder can be written by others: chmod go-w both"
    fi
    cat <&"$fd"
    exec {fd}<&-
}

# A JSON string of a token or hash (no control characters in them).
json_string() {
    local text=$1
    [[ $text != *[[:cntrl:]]* ]] || die "a token or password hash has a control character"
    text=${text//\\/\\\\}
    printf '"%s"' "${text//\"/\\\"}"
}

# Jupyter's secrets (the token, a hashed password from `make password`) go into a config file that
# only the notebook user reads, found through JUPYTER_CONFIG_PATH: never in the environment that
# the kernels inherit, never on a command line.
write_secret_config() {
    local folder=$1 token=$2 hashed_password=$3 settings=()
    if [[ -n $token ]]; then
        settings+=("\"IdentityProvider\": {\"token\": $(json_string "$token")}")
    fi
    if [[ -n $hashed_password ]]; then
        settings+=("\"PasswordIdentityProvider\": {\"hashed_password\": $(json_string "$hashed_password")}")
        log "password login ($CONFIG/jupyter_password)"
    fi
    ((${#settings[@]})) || return 0
    local IFS=,
    (umask 077 && printf '{%s}\n' "${settings[*]}" >"$folder/jupyter_server_config.json")
    export JUPYTER_CONFIG_PATH=$folder${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}
}

# Prints the token of JUPYTER_TOKEN, or of JUPYTER_TOKEN_FILE read with READER (as root:
# read_trusted_file). The caller unsets both variables.
print_token() {
    local reader=$1 token=${JUPYTER_TOKEN:-}
    if [[ -z $token && -n ${JUPYTER_TOKEN_FILE:-} ]]; then
        token=$("$reader" "$JUPYTER_TOKEN_FILE")
        [[ -n $token ]] || die "JUPYTER_TOKEN_FILE=$JUPYTER_TOKEN_FILE is empty"
    fi
    printf '%s' "$token"
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
        log "GRANT_SUDO: $user may use sudo without a password"
        echo "$user ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/pyrlab-grant-sudo
        chmod 0440 /etc/sudoers.d/pyrlab-grant-sudo
        drop=()
    fi

    run_hooks /usr/local/bin/start-notebook.d

    # Secrets that may be readable by root only (the host user's 0600 files) are read here, into
    # a folder that root owns (the user cannot put a link there) and a file the user reads.
    local secrets=/run/pyrlab token password=""
    rm -rf "$secrets"
    mkdir -m 0755 "$secrets"
    token=$(print_token read_trusted_file)
    unset JUPYTER_TOKEN JUPYTER_TOKEN_FILE
    if [[ ${PYRLAB_DEFAULT_COMMAND:-} == yes && -e $CONFIG/jupyter_password ]]; then
        password=$(read_trusted_file "$CONFIG/jupyter_password")
    fi
    write_secret_config "$secrets" "$token" "$password"
    if [[ -e $secrets/jupyter_server_config.json ]]; then chown "$uid:$gid" "$secrets/jupyter_server_config.json"; fi

    # As in docker-stacks: started as root, before-notebook.d runs as root, last before the drop.
    run_hooks /usr/local/bin/before-notebook.d

    export HOME=$home USER=$user LOGNAME=$user NB_USER=$user PYRLAB_SECRETS_DONE=yes
    if [[ -n $AUTH ]]; then export PYRLAB_AUTH=$AUTH; fi
    exec /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups "${drop[@]}" -- \
        /usr/bin/env "${user_environment[@]}" /usr/local/bin/start.sh "$@"
}

# Reads a file as the notebook user (no root stage ran): its own files.
read_own_file() { cat -- "$1"; }

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

as_user() {
    local default_command=${PYRLAB_DEFAULT_COMMAND:-}
    unset PYRLAB_DEFAULT_COMMAND
    if ! getent passwd "$EUID" >/dev/null; then
        # An arbitrary uid with no passwd entry (docker run --user 12345): a home it can write.
        if [[ ! -w ${HOME:-/} ]]; then
            HOME=/tmp/home-$EUID
            export HOME
            mkdir -p "$HOME"
            log "uid $EUID has no passwd entry: HOME=$HOME"
        fi
    fi
    local root_stage=no
    if [[ ${PYRLAB_SECRETS_DONE:-} == yes ]]; then
        root_stage=yes
        unset PYRLAB_SECRETS_DONE
    else
        # Started as this user (docker-stacks runs start-notebook.d as the user the container
        # started as).
        run_hooks /usr/local/bin/start-notebook.d
        # No root stage: the token and password go into a private folder of this user.
        local secrets token password=""
        secrets=$(mktemp -d "${TMPDIR:-/tmp}/pyrlab-XXXXXXXX")
        token=$(print_token read_own_file)
        unset JUPYTER_TOKEN JUPYTER_TOKEN_FILE
        if [[ $default_command == yes && -r $CONFIG/jupyter_password ]]; then
            password=$(<"$CONFIG/jupyter_password")
        fi
        write_secret_config "$secrets" "$token" "$password"
    fi
    if [[ -n ${NB_UMASK:-} ]]; then umask "$NB_UMASK"; fi
    load_env_file "$CONFIG/${PYRLAB_IMAGE:-pyrlab}.env"

    if [[ $root_stage == no ]]; then run_hooks /usr/local/bin/before-notebook.d; fi
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
        if [[ $AUTH == none ]]; then
            log "WARNING: PYRLAB_AUTH=none: Jupyter asks for no token or password"
            set -- "$@" --IdentityProvider.token= --PasswordIdentityProvider.hashed_password=
        fi
        if [[ -n ${NB_PREFIX:-} ]]; then
            # Kubeflow Notebooks: its gateway authenticates and proxies $NB_PREFIX to port 8888,
            # as the notebook controller expects of every image.
            log "NB_PREFIX=$NB_PREFIX: serving Kubeflow's way on 0.0.0.0:8888 under it, authentication left to its gateway"
            set -- "$@" "--ServerApp.base_url=$NB_PREFIX" --ServerApp.ip=0.0.0.0 --ServerApp.port=8888 \
                --IdentityProvider.token= --PasswordIdentityProvider.hashed_password= \
                "--ServerApp.allow_origin=*" --ServerApp.allow_remote_access=True
        fi
    fi
    if [[ -n ${JUPYTER_ENV_VARS_TO_UNSET:-} ]]; then unset_listed_variables; fi
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

if ((EUID == 0)) && [[ ${PYRLAB_STAGE:-} != user ]]; then
    export PYRLAB_STAGE=user
    as_root "$@"
fi
unset PYRLAB_STAGE
as_user "$@"
