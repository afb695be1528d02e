/**
 * Bad-input rows: scheduler output (squeue, sbatch, submit, orphans, sinfo), through the status
 * query, the watcher and the readers.
 */
import { createStatusQuery } from '../../../src/activities/status-query.js';
import { ErrorType, type ErrorTypeName } from '../../../src/errors.js';
import { SlurmWatcher } from '../../../src/scheduler/watcher.js';
import { parseNodeHealth } from '../../../src/slurm/node-exclusions.js';
import { parseOurJobs } from '../../../src/slurm/orphans.js';
import { parseSbatchParsable } from '../../../src/slurm/parse-sbatch.js';
import { parseSubmitOutput } from '../../../src/slurm/submit-command.js';
import { type Row, settle, unchanged, FakeCluster } from './rows.js';

const ROW_OK = '101|cryoet.w.c1.TS_01-1|RUNNING|None|n1|2026-11-25T10:08:18|2026-11-25T10:08:17';

/** The status query (squeue, then sacct for the ids squeue dropped) over canned output. */
function statusQuery(name: string, jobIds: string[], squeue: string, sacct: string, message: RegExp): Row {
  return {
    source: 'scheduler output',
    case: name,
    input: `squeue:\n${squeue}\nsacct:\n${sacct}`,
    type: ErrorType.StatusQueryFailed,
    message,
    run: async () => {
      const cluster = new FakeCluster({}, [
        [/\bsqueue\b/, squeue],
        [/\bsacct\b/, sacct],
      ]);
      const result = await settle(() => createStatusQuery(() => cluster.connection, cluster.runtime)(jobIds));
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

/** The watcher over the real status query and canned output: what becomes of job 501. */
export function watched(name: string, squeue: string, sacct: string, message: RegExp): Row {
  return {
    source: 'scheduler output',
    case: name,
    input: `squeue:\n${squeue}\nsacct:\n${sacct}`,
    type: 'pending',
    message,
    run: async () => {
      const cluster = new FakeCluster({}, [
        [/\bsqueue\b/, squeue],
        [/\bsacct\b/, sacct],
      ]);
      const logs: string[] = [];
      const watcher = new SlurmWatcher({
        query: createStatusQuery(() => cluster.connection, cluster.runtime),
        minIntervalMs: 5,
        maxIntervalMs: 10,
        maxCallsPerMinute: 60_000,
        log: (line) => logs.push(line),
      });
      try {
        watcher.register('501');
        const deadline = Date.now() + 2_000;
        while (cluster.calls.filter((c) => /\bsqueue\b/.test(c)).length < 3 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5));
        return { kind: 'watched', observation: watcher.current('501')!, logs, sideEffects: cluster.sideEffects };
      } finally {
        watcher.close();
      }
    },
  };
}

/** A pure reader of scheduler or submit output. */
export function reader(
  name: string,
  input: string,
  read: (stdout: string) => unknown,
  type: ErrorTypeName,
  message: RegExp,
): Row {
  return { source: 'scheduler output', case: name, input, type, message, run: () => unchanged(() => read(input)) };
}

export const schedulerRows: Row[] = [
  statusQuery(
    'squeue line truncated (6 of 7 fields)',
    ['101', '102'],
    `${ROW_OK}\n102|cryoet.w.c1.TS_03-1|RUNNING|None|n1|2026-11-25T10:08:18\n`,
    '',
    /^squeue output line 2 unreadable \(6 fields, expected 7\): "102\|/,
  ),
  statusQuery(
    'squeue line cut after the job id',
    ['101', '102'],
    `${ROW_OK}\n102\n`,
    '',
    /^squeue output line 2 unreadable \(1 fields, expected 7\): "102"$/,
  ),
  statusQuery(
    'squeue line that is not a job',
    ['101'],
    'Last login: Tue|from|10.0.0.1|x|y|z|w\n',
    '',
    /^squeue output line 1 unreadable \(job id "Last login: Tue"\)/,
  ),
  statusQuery(
    'squeue line with an empty state',
    ['101'],
    '101|cryoet.w.c1.TS_01-1||None|n1|N/A|N/A\n',
    '',
    /^squeue output line 1 unreadable \(empty state\)/,
  ),
  statusQuery(
    'sacct line truncated (3 of 5 fields)',
    ['101'],
    '',
    '101|cryoet.w.c1.TS_01-1|COMPL\n',
    new RegExp(
      '^sacct output line 1 unreadable \\(3 fields, expected 5; expected JobIDRaw,JobName,State,Reason,NodeList\\): ' +
        '"101\\|cryoet\\.w\\.c1\\.TS_01-1\\|COMPL"$',
    ),
  ),
  statusQuery(
    'sacct header line not suppressed',
    ['101'],
    '',
    'JobIDRaw|JobName|State|Reason|NodeList\n101|x|COMPLETED|None|n1\n',
    /^sacct output line 1 unreadable \(job id "JobIDRaw"/,
  ),
  statusQuery(
    'sacct line with an empty state',
    ['101'],
    '',
    '101|cryoet.w.c1.TS_01-1||None|n1\n',
    /^sacct output line 1 unreadable \(empty state/,
  ),
  watched(
    'unknown state from squeue',
    '501|cryoet.w.s-1|WEIRD|None|n1|N/A|N/A\n',
    '',
    /^job 501: unknown Slurm state "WEIRD", treating it as pending$/m,
  ),
  watched(
    'unknown state from sacct',
    '',
    '501|cryoet.w.s-1|SHRUNK|None|n1\n',
    /^job 501: unknown Slurm state "SHRUNK", treating it as pending$/m,
  ),
  watched('empty output from squeue and sacct', '', '', /^job 501: SUBMITTED \(pending\)$/m),
  reader(
    'sbatch --parsable printed nothing',
    '',
    parseSbatchParsable,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got ""$/,
  ),
  reader(
    'sbatch printed its chatty form',
    'Submitted batch job 12\n',
    parseSbatchParsable,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got "Submitted batch job 12\\n"$/,
  ),
  reader(
    'submit command cut after "submitted:"',
    'submitted:',
    parseSubmitOutput,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got ""$/,
  ),
  reader(
    'submit command cut after "existing:"',
    'existing:',
    parseSubmitOutput,
    ErrorType.SubmitOutputUnreadable,
    /^submit command printed "existing:", expected "existing:<id>" or "submitted:<id>"$/,
  ),
  reader(
    'orphan listing line truncated (4 of 5 fields)',
    '7|RUNNING|N/A|n1|cryoet.w.s-1\n8|PENDING|N/A|\n',
    parseOurJobs,
    ErrorType.StatusQueryFailed,
    /^squeue output line 2 unreadable \(4 fields, expected 5; expected %i\|%T\|%V\|%N\|%j\): "8\|PENDING\|N\/A\|"$/,
  ),
  reader(
    'orphan listing line with an empty state',
    '7||N/A|n1|cryoet.w.s-1\n',
    parseOurJobs,
    ErrorType.StatusQueryFailed,
    /^squeue output line 1 unreadable \(empty state; /,
  ),
  reader(
    'sinfo line without a state',
    'n1\n',
    parseNodeHealth,
    ErrorType.StatusQueryFailed,
    /^sinfo line "n1": expected "node\|state\|reason"$/,
  ),
  reader(
    'sinfo line cut after the node',
    'n2|idle|none\nn1|\n',
    parseNodeHealth,
    ErrorType.StatusQueryFailed,
    /^sinfo line "n1\|": expected "node\|state\|reason"$/,
  ),
];
