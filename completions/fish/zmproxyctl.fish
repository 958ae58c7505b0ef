# fish completion for zmproxyctl: a thin adapter over `zmproxyctl __complete`,
# with file names when the tool offers nothing (the value of --home).
function __zmproxyctl_complete
    set -l candidates (zmproxyctl __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c zmproxyctl -f -a '(__zmproxyctl_complete)'
