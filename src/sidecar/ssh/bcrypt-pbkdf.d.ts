// bcrypt-pbkdf ships with ssh2 (its dependency, which reads encrypted
// OpenSSH keys with it) and has no types of its own.
declare module 'bcrypt-pbkdf' {
  /** OpenBSD's bcrypt_pbkdf; fills `key` and returns 0, or -1 on bad input. */
  export function pbkdf(
    pass: Uint8Array,
    passlen: number,
    salt: Uint8Array,
    saltlen: number,
    key: Uint8Array,
    keylen: number,
    rounds: number
  ): number;
}
