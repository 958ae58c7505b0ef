# fish completion for zmlookupd: a thin adapter over `zmlookupd __complete`,
# with file names when the tool offers nothing (the values of --home and --log).
function __zmlookupd_complete
    set -l candidates (zmlookupd __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c zmlookupd -f -a '(__zmlookupd_complete)'
