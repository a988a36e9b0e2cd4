//! The `help` command's table.

/// Usage and meaning of every command, in the order `help` lists them.
pub(super) const HELP: [(&str, &str); 50] = [
    ("help", "list the commands"),
    (
        "show status",
        "version, uptime, the balancer process, configuration state",
    ),
    ("show vrrp", "each VRRP instance: state, priority, master"),
    (
        "show bgp",
        "BGP neighbors: state, uptime, announced prefixes, last NOTIFICATION",
    ),
    (
        "drain",
        "withdraw every BGP prefix (graceful shutdown); existing flows go on",
    ),
    ("drain off", "announce the ready prefixes again"),
    (
        "show ipvs [--stats|--rate]",
        "the kernel's IPVS table, as ipvsadm -Ln",
    ),
    (
        "show interfaces",
        "links, addresses and routes in the kernel",
    ),
    (
        "show config",
        "the running configuration (keepalived.conf included)",
    ),
    ("show log", "the latest log lines of lvsfw"),
    ("show audit", "who logged in and changed what, kept across reboots"),
    ("show version", "firmware, kernel and board"),
    (
        "show time",
        "the clock: NTP synchronised or not, server, offset, last sync",
    ),
    (
        "show slots",
        "both boot slots: versions, which runs, which is good",
    ),
    (
        "show certificate",
        "the page's certificate: names, validity, fingerprint, SPKI pin",
    ),
    (
        "certificate import",
        "paste a certificate chain and its key (PEM), end with a line holding a single \".\"",
    ),
    ("certificate own", "serve the box's own certificate again"),
    (
        "set interface ROLE address A/P [A/P...]",
        "ROLE (ext, int, mgmt) gets these addresses (candidate)",
    ),
    ("set hostname NAME", "the host name (candidate)"),
    (
        "set gateway ADDRESS|none",
        "the default gateway (candidate)",
    ),
    (
        "set ntp ADDRESS...|none",
        "the NTP servers the clock follows (candidate)",
    ),
    (
        "set password",
        "the admin password, asked twice (candidate)",
    ),
    (
        "config import",
        "paste a keepalived.conf, end with a line holding a single \".\"",
    ),
    ("config validate", "check the candidate configuration"),
    (
        "config diff",
        "the candidate against the running configuration",
    ),
    ("config apply", "put the candidate in service (a change of the mgmt addresses, the management address or the gateway rolls back in 10 minutes unless confirmed)"),
    (
        "config apply confirm MINUTES",
        "put the candidate in service; it rolls back by itself unless \"config confirm\" comes within MINUTES (1 to 60)",
    ),
    ("config confirm", "keep the change waiting for its confirmation"),
    ("config history", "the saved revisions: number, time, who, what changed"),
    ("config diff REV", "saved revision REV against the running configuration"),
    (
        "config restore REV",
        "saved revision REV back into service (as config apply; then config save)",
    ),
    (
        "config save",
        "keep the running configuration on the configuration disk",
    ),
    ("config export [--with-secrets]", "the running configuration as native JSON (the password hash only with --with-secrets, for a full backup)"),
    ("config discard", "drop the candidate's changes"),
    (
        "config restore",
        "the saved configuration into service again (after a boot that could not read it)",
    ),
    (
        "update [--allow-downgrade] FILE",
        "write a signed update file (on the box) into the other slot; reboot tries it once",
    ),
    ("ping ADDRESS", "4 echo requests, 1 s apart"),
    ("reboot", "stop the balancer cleanly and reboot"),
    ("poweroff", "stop the balancer cleanly and power off"),
    (
        "factory-reset",
        "erase the saved configuration and reboot (asks first)",
    ),
    ("logout", "end the session (also: exit)"),
    ("status", "the same as show status"),
    ("ipvs list [--stats|--rate]", "the same as show ipvs"),
    (
        "ipvs summary",
        "how many services, destinations, connections",
    ),
    (
        "debug cat FILE",
        "print a file, e.g. /proc/net/ip_vs (lvsfw.debug)",
    ),
    (
        "debug run PROG ARGS [< FILE]",
        "with lvsfw.debug on the kernel command line",
    ),
    (
        "debug kill-balancer",
        "SIGKILL the balancer (it is restarted; lvsfw.debug)",
    ),
    (
        "debug kmsg COUNT",
        "write COUNT lines to the kernel's log: a flood (lvsfw.debug)",
    ),
    (
        "debug freeze-balancer",
        "SIGSTOP the balancer: a hang (the watchdog resets; lvsfw.debug)",
    ),
    (
        "ctrl-c",
        "abandon the line, or stop the running command (ping)",
    ),
];
