# fish completion for zmproxyd: a thin adapter over `zmproxyd __complete`,
# with file names when the tool offers nothing (the values of --config and
# --home).
function __zmproxyd_complete
    set -l candidates (zmproxyd __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c zmproxyd -f -a '(__zmproxyd_complete)'
