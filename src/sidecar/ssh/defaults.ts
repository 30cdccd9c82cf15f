/**
 * Connection defaults both SSH clients use (the built-in one in connect.ts,
 * OpenSSH in openssh/args.ts) when the user's ssh_config sets none.
 */

/** Seconds between keepalives when the config sets no ServerAliveInterval. */
export const DEFAULT_KEEPALIVE_SECONDS = 30;

/** How long the TCP connection and the key exchange may take without a ConnectTimeout. */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 30;
