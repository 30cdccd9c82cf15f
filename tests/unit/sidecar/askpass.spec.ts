import { classifyAskpass } from '../../../src/sidecar/ssh/askpass';

describe('classifyAskpass', () => {
  it('reads OpenSSH host key questions with their fingerprint', () => {
    const text =
      "The authenticity of host 'gw.example.org (10.0.0.1)' can't be established.\n" +
      'ED25519 key fingerprint is SHA256:abc+/DEF0123=.\n' +
      'This key is not known by any other names.\n' +
      'Are you sure you want to continue connecting (yes/no/[fingerprint])? ';
    expect(classifyAskpass(text, '')).toMatchObject({
      kind: 'host-key',
      fields: [],
      hostKey: {
        host: 'gw.example.org (10.0.0.1)',
        keyType: 'ED25519',
        fingerprint: 'SHA256:abc+/DEF0123='
      }
    });
  });

  it.each([
    ["Enter passphrase for key '/home/a/.ssh/id_ed25519': ", 'passphrase'],
    ["alice@gw's password: ", 'password'],
    ['(alice@gw) Verification code: ', 'keyboard-interactive'],
    ['(alice@gw) Password: ', 'password']
  ])('%s is a %s question with one secret field', (text, kind) => {
    const q = classifyAskpass(text, '');
    expect(q.kind).toBe(kind);
    expect(q.fields).toEqual([{ label: text.trim(), echo: false }]);
  });

  it('turns a confirmation into a yes/no question', () => {
    expect(classifyAskpass('Allow use of key?', 'confirm').kind).toBe(
      'host-key'
    );
  });
});
