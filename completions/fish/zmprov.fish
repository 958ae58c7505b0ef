# fish completion for zmprov: a thin adapter over `zmprov __complete`.
complete -c zmprov -f -a '(zmprov __complete (commandline -opc)[2..-1] (commandline -ct))'
