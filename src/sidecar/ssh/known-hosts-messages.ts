/**
 * What the user is told about a host key that is not known, has changed or
 * is revoked: a sentence naming the file and line, and the `ssh-keygen -R`
 * or `ssh` command that settles it.
 */
import { homedir } from 'os';

import { displayPath } from '../paths';
import { quoteArg } from '../shell/quote';
import type { HostKeyProblem, IHostKeyUnknown } from './known-hosts-check';
import { HostKeyError, HostKeyErrorCode } from './known-hosts-error';
import { fingerprintLine, IKeyDescription } from './known-hosts-keys';
import {
  DEFAULT_SSH_PORT,
  defaultUserKnownHostsFiles
} from './known-hosts-names';

export interface IMessageOptions {
  /** Shown as `~`; the user's home directory by default. */
  home?: string;
}

function hostLabel(result: HostKeyProblem): string {
  const alias = result.hostKeyAlias
    ? `, HostKeyAlias ${result.hostKeyAlias}`
    : '';
  return `${result.host} (port ${result.port}${alias})`;
}

function removeCommand(
  result: HostKeyProblem,
  file: string,
  home: string
): string {
  const defaultFile = defaultUserKnownHostsFiles(home)[0];
  const fileArg = file === defaultFile ? '' : ` -f ${quoteArg(file)}`;
  return `ssh-keygen${fileArg} -R ${quoteArg(result.name)}`;
}

function keyText(key: IKeyDescription): string {
  return `${key.displayType} ${key.fingerprint}`;
}

/**
 * The sentence a user can act on for a key that is not known, has changed or
 * is revoked.
 */
export function hostKeyMessage(
  result: HostKeyProblem,
  options: IMessageOptions = {}
): string {
  const home = options.home ?? homedir();
  switch (result.status) {
    case 'changed': {
      const where = `${displayPath(result.file, home)} line ${result.line}`;
      const known =
        result.knownKeys.find(
          k => k.file === result.file && k.line === result.line
        ) ?? result.knownKeys[0];
      const fix = result.readOnly
        ? `ask its admins, who must also update ${where}`
        : `ask its admins, then remove the old line with \`${removeCommand(result, result.file, home)}\``;
      const head = result.sameType
        ? `Host key for ${hostLabel(result)} changed: the server offered ${keyText(result.offered)} but ${where} has ${known.fingerprint}.`
        : `Host key for ${hostLabel(result)} changed: the server offered ${keyText(result.offered)} but ${where} has a key of another type, ${keyText(known)}; ssh refuses this too.`;
      return `${head} This may be an attack, or the cluster was reinstalled; ${fix}.`;
    }
    case 'revoked':
      return (
        `Host key for ${hostLabel(result)} is revoked: the server offered ${keyText(result.offered)}, ` +
        `which ${displayPath(result.file, home)} line ${result.line} marks @revoked. Someone may be using a stolen key to impersonate the cluster; ` +
        'do not connect, and tell its admins.'
      );
    default: {
      const ssh =
        result.port === DEFAULT_SSH_PORT
          ? `ssh ${quoteArg(result.host)}`
          : `ssh -p ${result.port} ${quoteArg(result.host)}`;
      return (
        `Host key for ${hostLabel(result)} is not known and was not accepted: the server offered ` +
        `${keyText(result.offered)}. Compare it with the fingerprint the cluster's admins publish, ` +
        `then accept it when JupyterLab asks, or with \`${ssh}\` in a terminal.`
      );
    }
  }
}

/** The HostKeyError to throw for a key the user must not (or did not) accept. */
export function hostKeyError(
  result: HostKeyProblem,
  options: IMessageOptions = {}
): HostKeyError {
  const code: HostKeyErrorCode =
    result.status === 'changed'
      ? 'host-key-changed'
      : result.status === 'revoked'
        ? 'host-key-revoked'
        : 'host-key-unknown';
  return new HostKeyError(code, hostKeyMessage(result, options));
}

/**
 * The question for an unknown host, worded as ssh asks it:
 * "The authenticity of host 'hpc-gw1' can't be established.
 *  ED25519 key fingerprint is SHA256:…."
 */
export function unknownHostPrompt(result: IHostKeyUnknown): string {
  return (
    `The authenticity of host '${result.name}' can't be established.\n` +
    `${fingerprintLine(result.offered)}.\n` +
    'Are you sure you want to continue connecting?'
  );
}
