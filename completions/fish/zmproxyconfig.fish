# fish completion for zmproxyconfig: a thin adapter over `zmproxyconfig __complete`.
complete -c zmproxyconfig -f -a '(zmproxyconfig __complete (commandline -opc)[2..-1] (commandline -ct))'
