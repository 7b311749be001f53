#!/bin/bash
# start.sh [COMMAND...]: the entry point of every pyrlab image, run by tini.
# Without a command it starts Jupyter (`jupyter lab`, or DOCKER_STACKS_JUPYTER_CMD) with
# NOTEBOOK_ARGS. Started as root, it first gives the notebook user the ids in NB_UID and NB_GID
# (so files in mounted folders belong to the host user), reads JUPYTER_TOKEN_FILE while it still
# can, and then drops to that user: nothing else runs as root, unless NB_UID=0 asks for it.
set -euo pipefail

log() { echo "pyrlab: $*" >&2; }

if (($# == 0)); then
    # NOTEBOOK_ARGS is split into words, as in jupyter/docker-stacks (no globbing).
    read -r -a notebook_args <<<"${NOTEBOOK_ARGS:-}"
    # jupyter-lab rather than `jupyter lab`: the same program, without the dispatcher's start-up.
    set -- "jupyter-${DOCKER_STACKS_JUPYTER_CMD:-lab}" "${notebook_args[@]}"
fi

if [[ $(id -u) != 0 ]]; then
    exec "$@"
fi

NB_USER=${NB_USER:-jovyan}
current_uid=$(id -u "$NB_USER")
current_gid=$(id -g "$NB_USER")
target_uid=${NB_UID:-$current_uid}
target_gid=${NB_GID:-$current_gid}
# NB_UID=0 is the one way to run as root: `make pylab` asks for it only when root runs it on a
# folder that root owns.
if [[ $target_uid == 0 ]]; then log "NB_UID=0: the notebook user is root"; fi

# usermod is not used: --uid and --gid also re-own files under the home, mounted folders included.
if [[ $target_gid != "$current_gid" ]]; then
    log "notebook group id $current_gid -> $target_gid"
    if ! getent group "$target_gid" >/dev/null; then
        groupadd --gid "$target_gid" "${NB_GROUP:-$NB_USER}"
    fi
    # `users` (gid 100) stays a supplementary group: it owns the writable virtual environment.
    gpasswd --add "$NB_USER" users >/dev/null
fi
if [[ $target_uid != "$current_uid" ]]; then
    log "notebook user id $current_uid -> $target_uid"
fi
sed -i -E "s/^(${NB_USER}:[^:]*:)[0-9]+:[0-9]+:/\1${target_uid}:${target_gid}:/" /etc/passwd

# Re-own what the image put in the home, never what is mounted there (NOTEBOOKS, DOCKER).
home="/home/$NB_USER"
prune=()
while read -r mountpoint; do
    prune+=(-path "$mountpoint" -prune -o)
done < <(awk -v home="$home/" 'index($5, home) == 1 { print $5 }' /proc/self/mountinfo)
find "$home" -xdev "${prune[@]}" \( ! -uid "$target_uid" -o ! -gid "$target_gid" \) \
    -exec chown -h "$target_uid:$target_gid" {} +

# The token file may be readable by root only (a host user's 0600 file): read it here.
if [[ -n ${JUPYTER_TOKEN_FILE:-} && -z ${JUPYTER_TOKEN:-} ]]; then
    JUPYTER_TOKEN=$(<"$JUPYTER_TOKEN_FILE")
    export JUPYTER_TOKEN
    unset JUPYTER_TOKEN_FILE
fi

export HOME="$home" USER="$NB_USER" LOGNAME="$NB_USER"
exec setpriv --reuid="$target_uid" --regid="$target_gid" --init-groups -- "$@"
