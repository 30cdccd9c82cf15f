/**
 * OpenSSH `known_hosts` files: reading, checking a server's host key, and
 * adding a key the user accepted.
 *
 * It follows OpenSSH (hostfile.c, sshconnect.c, match.c) wherever it can:
 *
 * - A host is looked up under the name OpenSSH forms: the host in lower case
 *   for port 22, `[host]:port` for any other port, the HostKeyAlias alone
 *   (without a port) when one is set.
 * - A line is `[@marker] hosts keytype base64 [comment]`. `hosts` is a comma
 *   list of patterns with `*`, `?` and `!negation`, or one hashed name
 *   `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
 * - A key is *known* when a plain line for the host holds exactly that key.
 *   When plain lines exist for the host but none holds the key, the key has
 *   *changed*, whatever their key types: OpenSSH 9 says "REMOTE HOST
 *   IDENTIFICATION HAS CHANGED" and refuses when it knows an ED25519 key and
 *   the server offers RSA, and so do we (`sameType: false` tells the two
 *   cases apart for the message). The connection module should offer the
 *   server the key types `knownHostKeyTypes` returns first, as OpenSSH does,
 *   so that a server which still has the known key presents it.
 * - A key on a matching `@revoked` line is refused even when a plain line
 *   also lists it.
 * - `@cert-authority` lines are recognised and never trusted for a plain
 *   key; host certificates are not supported, so a matching one is reported
 *   as a warning.
 * - For a port other than 22 without HostKeyAlias, a key unknown under
 *   `[host]:port` is still known when a line for the bare host holds it.
 *
 * Not done (OpenSSH's defaults make them rare): CheckHostIP (off by default
 * since 8.5), KnownHostsCommand, VerifyHostKeyDNS, host certificates.
 *
 * Nothing here runs a program; files are only read, except by
 * `appendKnownHost`, which creates them with mode 0600.
 *
 * This module is the face of the parts: keys (`known-hosts-keys`), names
 * and hashing (`-names`), parsing (`-parse`), checking (`-check`), messages
 * (`-messages`, `-error`) and writing (`-append`).
 */

export * from './known-hosts-append';
export * from './known-hosts-check';
export * from './known-hosts-error';
export * from './known-hosts-keys';
export * from './known-hosts-messages';
export * from './known-hosts-names';
export * from './known-hosts-parse';
