# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_whoport_global_optspecs
    string join \n t/tcp u/udp 4/ipv4 6/ipv6 l/listening a/all p/pid= user= N/netns= json format= output= q/quiet color= w/wide xsan data-dir= xsan-config-dir= xsan-bin-dir= backend= owner-scan= debug generate= h/help V/version
end

function __fish_whoport_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_whoport_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_whoport_using_subcommand
    set -l cmd (__fish_whoport_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c whoport -n "__fish_whoport_needs_command" -s p -l pid -d 'Only sockets held by this process' -r
complete -c whoport -n "__fish_whoport_needs_command" -l user -d 'Only sockets of this user (name or uid): the socket\'s or an owner\'s' -r
complete -c whoport -n "__fish_whoport_needs_command" -s N -l netns -d 'Network namespaces to look in: `current` (whoport\'s own, the default), `all`, or one: an `ip netns` name, a Docker or Podman container (name or id), a pid, or a namespace file (/run/netns/NAME, /proc/PID/ns/net). Others than its own need root' -r
complete -c whoport -n "__fish_whoport_needs_command" -l format -d 'Output format: the table, JSON (docs/json.md) or the Prometheus text exposition format for node_exporter\'s textfile collector (docs/monitoring.md)' -r -f -a "table\t''
json\t''
prometheus\t''"
complete -c whoport -n "__fish_whoport_needs_command" -l output -d 'Write the output to FILE instead of standard output. A regular file is replaced atomically, keeping its mode and owner; a new file gets its mode from the umask; a character device or FIFO is written through; anything else is refused' -r -F
complete -c whoport -n "__fish_whoport_needs_command" -l color -d 'When to use colours in the table. `always` wins over NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c whoport -n "__fish_whoport_needs_command" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_needs_command" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_needs_command" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_needs_command" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_needs_command" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_needs_command" -l generate -d 'Print the man page or a shell completion script (for packagers)' -r -f -a "man\t''
complete-bash\t''
complete-zsh\t''
complete-fish\t''
complete-powershell\t''"
complete -c whoport -n "__fish_whoport_needs_command" -s t -l tcp -d 'TCP sockets only (MPTCP included)'
complete -c whoport -n "__fish_whoport_needs_command" -s u -l udp -d 'UDP sockets only (UDP-Lite included)'
complete -c whoport -n "__fish_whoport_needs_command" -s 4 -l ipv4 -d 'IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped)'
complete -c whoport -n "__fish_whoport_needs_command" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c whoport -n "__fish_whoport_needs_command" -s l -l listening -d 'Listening sockets only (TCP LISTEN, unconnected UDP). The default without PORT'
complete -c whoport -n "__fish_whoport_needs_command" -s a -l all -d 'Sockets in every state. The default with PORT'
complete -c whoport -n "__fish_whoport_needs_command" -l json -d 'Print JSON (documented in docs/json.md); the same as --format json'
complete -c whoport -n "__fish_whoport_needs_command" -s q -l quiet -d 'Print nothing; the exit code tells'
complete -c whoport -n "__fish_whoport_needs_command" -s w -l wide -d 'Whole values in a terminal too (as `ps -ww`): the table is not fitted to the terminal\'s width. In a pipe or file values are always whole'
complete -c whoport -n "__fish_whoport_needs_command" -l xsan -d 'Apple Xsan audit: is Xsan configured here, its port window, and every listener on 311/tcp, 312/tcp or in the window with its verdict'
complete -c whoport -n "__fish_whoport_needs_command" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whoport -n "__fish_whoport_needs_command" -s V -l version -d 'Print version'
complete -c whoport -n "__fish_whoport_needs_command" -a "check" -d 'A health check following the Nagios plugin API: one status line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN'
complete -c whoport -n "__fish_whoport_needs_command" -a "kill" -d 'Free a port: signal the processes holding its listening sockets (master first), wait for the port to be free, then SIGKILL whatever still holds it'
complete -c whoport -n "__fish_whoport_needs_command" -a "wait" -d 'Wait until a port is listening, held or free, reading the local socket table (nothing is sent to the port); then optionally run a command'
complete -c whoport -n "__fish_whoport_needs_command" -a "watch" -d 'Print a line for every change of the sockets on the ports: a listener added or removed, its holders changed. Runs until interrupted'
complete -c whoport -n "__fish_whoport_needs_command" -a "registry" -d 'The IANA port registry: which copy is in use (the default), or import IANA\'s CSV'
complete -c whoport -n "__fish_whoport_using_subcommand check" -s e -l expect -d 'What must be true of each PORT (repeatable; see below). Default: listening' -r
complete -c whoport -n "__fish_whoport_using_subcommand check" -l warn-on -d 'Also report WARNING when this is found while the expectations hold (repeatable)' -r -f -a "xsan-conflict\t'A listening socket on an Xsan port held by a process that is not Xsan'"
complete -c whoport -n "__fish_whoport_using_subcommand check" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand check" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand check" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand check" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand check" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand check" -s t -l tcp -d 'TCP sockets only (MPTCP included)'
complete -c whoport -n "__fish_whoport_using_subcommand check" -s u -l udp -d 'UDP sockets only (UDP-Lite included)'
complete -c whoport -n "__fish_whoport_using_subcommand check" -s 4 -l ipv4 -d 'IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped)'
complete -c whoport -n "__fish_whoport_using_subcommand check" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c whoport -n "__fish_whoport_using_subcommand check" -l json -d 'Print the verdict, its reasons and the sockets as JSON (docs/json.md)'
complete -c whoport -n "__fish_whoport_using_subcommand check" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s s -l signal -d 'The signal to send first: a name (TERM, HUP, INT…) or a number' -r
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l timeout -d 'How long to wait for the port to be free after the signal (10s, 1m, 500ms)' -r
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l no-escalate -d 'Do not send SIGKILL when the port is still held after --timeout'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s n -l dry-run -d 'Say who would get which signal, and why; send nothing'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l force -d 'Signal container plumbing (docker-proxy, conmon…) too'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s t -l tcp -d 'TCP sockets only (MPTCP included)'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s u -l udp -d 'UDP sockets only (UDP-Lite included)'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s 4 -l ipv4 -d 'IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped)'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l json -d 'Report what was done as JSON (docs/json.md)'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand kill" -s h -l help -d 'Print help'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l until -d 'The condition to wait for' -r -f -a "listening\t'A listening socket (TCP LISTEN, bound UDP), any address family'
held\t'Any socket on the port, in any state'
free\t'No socket at all on the port (TIME_WAIT included)'"
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l timeout -d 'Give up after this long (10s, 1m, 500ms). Default: wait for ever' -r
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l interval -d 'How often to read the socket table' -r
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s t -l tcp -d 'TCP sockets only (MPTCP included)'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s u -l udp -d 'UDP sockets only (UDP-Lite included)'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s 4 -l ipv4 -d 'IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped)'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s q -l quiet -d 'Print nothing; the exit code tells'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand wait" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l count -d 'Stop after this many events' -r
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l interval -d 'How often to read the socket table' -r
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s a -l all -d 'Sockets in every state, not only listening ones'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s t -l tcp -d 'TCP sockets only (MPTCP included)'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s u -l udp -d 'UDP sockets only (UDP-Lite included)'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s 4 -l ipv4 -d 'IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped)'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l json -d 'JSON Lines: {"event", "time", "socket"} per change'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand watch" -s h -l help -d 'Print help'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -s h -l help -d 'Print help'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -f -a "import" -d 'Store a copy of IANA\'s service-names-port-numbers.csv; it then takes precedence over the built-in copy'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and not __fish_seen_subcommand_from import status" -f -a "status" -d 'Which copy is in use, its date and row count'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l data-dir -d 'Directory for the user\'s copy of the IANA registry' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l xsan-config-dir -d 'Xsan configuration directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l xsan-bin-dir -d 'Xsan executable directory (instead of the standard ones)' -r -F
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l backend -d 'Which collector to use (for tests and comparisons)' -r -f -a "native\t'The platform\'s fastest path (netlink + /proc on Linux)'
procfs\t'Linux: sockets from /proc/net instead of netlink'
portable\t'netstat2 + sysinfo, the macOS path'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l owner-scan -d 'How the Linux fast path finds the processes holding sockets (for tests and comparisons): the BPF iterator where it can run, else /proc (auto)' -r -f -a "auto\t'The BPF iterator where it can run, else the /proc scan'
bpf\t'The BPF iterator only: an error where it cannot run'
procfs\t'The /proc/*/fd scan only'"
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -l debug -d 'Notes on how the answer was found, on standard error'
complete -c whoport -n "__fish_whoport_using_subcommand registry; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
