/** A finished command's status and output, decoded as text. */
export interface ICommandText {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** The first non-empty line of stderr, else a sentence with the status. */
export function firstErrorLine(output: ICommandText, program: string): string {
  return (
    output.stderr
      .split('\n')
      .map(l => l.trim())
      .find(l => l !== '') ??
    `${program} exited with status ${output.exitCode ?? 'unknown'}`
  );
}
