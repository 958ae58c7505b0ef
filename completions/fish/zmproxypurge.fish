# fish completion for zmproxypurge: a thin adapter over `zmproxypurge __complete`,
# with file names when the tool offers nothing (the values of --home and -L).
function __zmproxypurge_complete
    set -l candidates (zmproxypurge __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c zmproxypurge -f -a '(__zmproxypurge_complete)'
