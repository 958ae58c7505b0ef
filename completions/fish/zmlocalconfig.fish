# fish completion for zmlocalconfig: a thin adapter over `zmlocalconfig __complete`.
complete -c zmlocalconfig -f -a '(zmlocalconfig __complete (commandline -opc)[2..-1] (commandline -ct))'
