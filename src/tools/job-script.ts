/**
 * A cluster step that is more than one command: argv commands run in order in one folder by
 * `bash -c` with `set -euo pipefail`, each command shell-quoted, so the first failure fails
 * the job. Pure.
 */
import { shellJoin, shellQuote } from '../shell/quote.js';

/** argv for `bash -c '<mkdir -p dir; cd dir; cmd1; cmd2; …>'`. */
export function commandsIn(dir: string, commands: readonly (readonly string[])[]): string[] {
  if (commands.length === 0) throw new Error('commandsIn: no commands');
  const lines = [
    'set -euo pipefail',
    `mkdir -p -- ${shellQuote(dir)}`,
    `cd -- ${shellQuote(dir)}`,
    ...commands.map((argv) => shellJoin(argv)),
  ];
  return ['bash', '-c', lines.join('\n')];
}
