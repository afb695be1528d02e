// A node:test reporter that writes one block per failed test: file, line, the test's
// name and the first lines of its error. scripts/test.sh prints the file at the end of
// the run, so the last lines of a long log name what failed.
const MAX_ERROR_LINES = 30;

function errorText(error) {
  if (!error) return '(no error)';
  const inner = error.cause ?? error;
  const text = inner?.stack ?? inner?.message ?? String(inner);
  return text.split('\n').slice(0, MAX_ERROR_LINES).join('\n');
}

export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const d = event.data;
    // A suite fails when a test in it fails: name the test, not its suite again.
    if (d.details?.type === 'suite') continue;
    const where = d.file ? `${d.file}${d.line ? `:${d.line}` : ''}` : '(unknown file)';
    yield `not ok: ${d.name}\n  at ${where}\n${errorText(d.details?.error).replace(/^/gm, '    ')}\n\n`;
  }
}
