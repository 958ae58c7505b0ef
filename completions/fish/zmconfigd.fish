# fish completion for zmconfigd: a thin adapter over `zmconfigd __complete`,
# with file names when the tool offers nothing (the values of --home and --log).
function __zmconfigd_complete
    set -l candidates (zmconfigd __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c zmconfigd -f -a '(__zmconfigd_complete)'
