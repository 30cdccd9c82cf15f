/**
 * Connection defaults both SSH clients use (the built-in one in connect.ts,
 * OpenSSH in openssh/args.ts) when the user's ssh_config sets none.
 */

/**
 * Seconds between keepalives when the config sets no ServerAliveInterval.
 * With ServerAliveCountMax 3 a dead path is noticed within 20 s: at 30 s a
 * 30 s outage went unnoticed and TCP's retransmission back-off brought the
 * connection back only ~25 s after the path did (tests/reliability).
 */
export const DEFAULT_KEEPALIVE_SECONDS = 5;

/**
 * How long the TCP connection and the key exchange may take without a
 * ConnectTimeout. An attempt made while packets vanish waits this long (SYNs
 * retried 1, 3, 7 s in), so the next attempt comes soon after the path is
 * back.
 */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;
