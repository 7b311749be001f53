# shellcheck shell=bash
# pyrlab: an interactive shell of a uid without a passwd entry (a lab runs as the host user's uid)
# starts again under the name start.sh gave that uid (nss_wrapper), so that its prompt and `id`
# say jovyan, in `make pylab-shell` and `docker exec -it <lab> bash` too.
if [[ -z ${NSS_WRAPPER_PASSWD:-} ]] && ! getent passwd "$EUID" >/dev/null; then
    for pyrlab_nss in "${TMPDIR:-/tmp}/pyrlab-nss-$EUID" "/tmp/pyrlab-nss-$EUID" "/dev/shm/pyrlab-nss-$EUID"; do
        if [[ -O $pyrlab_nss && ! -L $pyrlab_nss && -r $pyrlab_nss/passwd ]]; then
            pyrlab_wrapper=(/usr/lib/*/libnss_wrapper.so)
            # `bash -ic COMMAND` keeps its command.
            exec env LD_PRELOAD="${pyrlab_wrapper[0]}" NSS_WRAPPER_PASSWD="$pyrlab_nss/passwd" \
                NSS_WRAPPER_GROUP="$pyrlab_nss/group" bash -i ${BASH_EXECUTION_STRING:+-c "$BASH_EXECUTION_STRING"}
        fi
    done
    unset pyrlab_nss
fi
