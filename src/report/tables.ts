/**
 * The run record as HTML tables: steps (with their command lines), each step's events,
 * tilt series, outputs, the picks gate, the campaign's files and its parameters. Every
 * string from the record goes through esc().
 */
import type { StepSummary } from '../model/step-summary.js';
import type { RunRecord } from '../model/campaign-status.js';
import {
  NONE,
  bytes,
  clock,
  commandLine,
  dateTime,
  duration,
  fixed,
  groupThousands,
  parseTime,
  stepLabel,
  usd,
} from './format.js';
import { esc } from './svg.js';

/** A cell: already-escaped HTML, optionally right-aligned (numbers). */
interface Cell {
  readonly html: string;
  readonly num?: boolean;
  readonly title?: string;
}

const text = (v: unknown, title?: string): Cell => ({
  html: v === undefined || v === null || v === '' ? NONE : esc(v),
  ...(title ? { title } : {}),
});
const num = (v: string, title?: string): Cell => ({ html: esc(v), num: true, ...(title ? { title } : {}) });
const raw = (html: string): Cell => ({ html });

type Header = string | { label: string; num: boolean };

function cells(row: readonly Cell[]): string {
  return row
    .map((c) => `<td${c.num ? ' class="num"' : ''}${c.title ? ` title="${esc(c.title)}"` : ''}>${c.html}</td>`)
    .join('');
}

/** A table; `body` rows are already-built <tr> elements. */
function tableOf(cls: string, headers: readonly Header[], body: readonly string[]): string {
  const head = headers
    .map((h) => (typeof h === 'string' ? `<th>${esc(h)}</th>` : `<th class="num">${esc(h.label)}</th>`))
    .join('');
  const thead = `<thead><tr>${head}</tr></thead>`;
  const tbody = `<tbody>\n${body.join('\n')}\n</tbody>`;
  return `<div class="table-wrap"><table class="${esc(cls)}">${thead}${tbody}</table></div>`;
}

function table(cls: string, headers: readonly Header[], rows: readonly (readonly Cell[])[]): string {
  return tableOf(
    cls,
    headers,
    rows.map((r) => `<tr>${cells(r)}</tr>`),
  );
}

const N = (label: string) => ({ label, num: true });

const list = <T>(v: readonly T[] | undefined): readonly T[] => (Array.isArray(v) ? v : []);

/** The command line, collapsed to its first line; the whole of it in <code>. */
function commandHtml(argv: readonly string[] | undefined): string {
  const line = commandLine(argv);
  if (line === '') return `<span class="no-data">no command recorded</span>`;
  // For `bash -c <script>`, the script's last line is the tool that does the work.
  const script =
    argv !== undefined && argv.length >= 3 && /(^|\/)(ba)?sh$/.test(String(argv[0])) && argv[1] === '-c'
      ? String(argv[2])
      : undefined;
  const lines = (script ?? line)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const first = script === undefined ? (lines[0] ?? line) : `${String(argv![0])} -c '…' ⟶ ${lines.at(-1) ?? ''}`;
  const summary = first.length > 150 ? `${first.slice(0, 149)}…` : first;
  return `<details class="cmd"><summary>command: ${esc(summary)}</summary><code>${esc(line)}</code></details>`;
}

const STEP_HEADERS: readonly Header[] = [
  'step',
  'tilt series',
  'rung · gres',
  'GPU type',
  N('GPUs'),
  'node',
  'job ids',
  N('attempts'),
  N('relaxations'),
  N('reclaims'),
  'submitted',
  'started',
  'ended',
  N('pending s'),
  N('run s'),
  N('$/GPU\u2011h'),
  'priced as',
  N('cost'),
];

/** One row per step, in record order (the order steps finished), each followed by its command line. */
export function stepsTable(record: Pick<RunRecord, 'steps' | 'startedAt'>): string {
  const day = record.startedAt;
  const rows = list(record.steps).map((s: StepSummary) => [
    text(s.step),
    text(s.tiltSeries),
    text(`${s.rung} · ${s.gres}`, `rung ${s.rung} (${s.cluster}/${s.partition}, ${s.gres})`),
    text(s.gpuType),
    num(groupThousands(s.gpus)),
    text(s.node),
    text(list(s.jobIds).join(', ')),
    num(groupThousands(s.attempts)),
    num(groupThousands(s.relaxations)),
    num(groupThousands(s.reclaims)),
    text(clock(s.submittedAt, day), s.submittedAt),
    text(clock(s.startedAt, day), s.startedAt),
    text(clock(s.endedAt, day), s.endedAt),
    num(groupThousands(s.pendingSeconds), duration(s.pendingSeconds)),
    num(groupThousands(s.runSeconds), duration(s.runSeconds)),
    num(fixed(s.pricePerGpuHour, 4).replace(/0{1,2}$/, '')),
    text(s.priceBasis),
    num(usd(s.costUsd)),
  ]);
  if (rows.length === 0) return '<p class="no-data">No cluster steps in the run record.</p>';
  const steps = list(record.steps);
  const body = rows.flatMap((r, i) => [
    `<tr class="step-row">${cells(r)}</tr>`,
    `<tr class="cmd-row"><td colspan="${STEP_HEADERS.length}">${commandHtml(steps[i]!.command)}</td></tr>`,
  ]);
  return tableOf('steps', STEP_HEADERS, body);
}

/** Each step's events, one collapsed table per step. */
export function eventsTables(record: Pick<RunRecord, 'steps' | 'startedAt'>): string {
  const start = parseTime(record.startedAt);
  const parts = list(record.steps).map((s) => {
    const events = list(s.events);
    const rows = events.map((e) => {
      const t = parseTime(e?.at);
      return [
        text(clock(e?.at, record.startedAt), e?.at),
        num(t === undefined || start === undefined ? NONE : `+${duration((t - start) / 1000)}`),
        text(e?.kind),
        num(Number.isFinite(e?.rung) ? String(e.rung + 1) : NONE),
        text(e?.jobId),
        text(e?.state),
        text(e?.reason),
        text(e?.node),
        text(
          [e?.note, e?.kind === 'resumed' && e.redone?.length ? `redone: ${e.redone.join(', ')}` : undefined]
            .filter(Boolean)
            .join(' · '),
        ),
      ];
    });
    const body =
      rows.length === 0
        ? '<p class="no-data">No events.</p>'
        : table(
            'events',
            ['time', N('since start'), 'event', N('rung'), 'job', 'state', 'reason', 'node', 'note'],
            rows,
          );
    const count = `${events.length} event${events.length === 1 ? '' : 's'}`;
    return `<details class="step-events"><summary>${esc(stepLabel(s))} — ${count}</summary>${body}</details>`;
  });
  return parts.length === 0 ? '<p class="no-data">No cluster steps in the run record.</p>' : parts.join('\n');
}

/** Tilt series: name, and the tomogram written or the error that dropped it. */
export function tiltSeriesTable(record: Pick<RunRecord, 'tiltSeries'>): string {
  const rows = list(record.tiltSeries).map((t) => [
    text(t.name),
    raw(t.error ? '<span class="bad">failed</span>' : t.tomogram ? '<span class="ok">reconstructed</span>' : NONE),
    raw(t.error ? `<span class="error">${esc(t.error)}</span>` : t.tomogram ? `<code>${esc(t.tomogram)}</code>` : NONE),
  ]);
  if (rows.length === 0) return '<p class="no-data">No tilt series in the run record.</p>';
  return table('tilt-series', ['tilt series', 'result', 'tomogram or error'], rows);
}

/** Outputs with their size and checksum. */
export function outputsTable(record: Pick<RunRecord, 'outputs'>): string {
  const rows = list(record.outputs).map((o) => [
    raw(`<code>${esc(o.path)}</code>`),
    num(groupThousands(o.bytes), bytes(o.bytes)),
    num(bytes(o.bytes)),
    raw(`<code class="hash">${esc(o.sha256)}</code>`),
  ]);
  if (rows.length === 0) return '<p class="no-data">No outputs in the run record.</p>';
  return table('outputs', ['path', N('bytes'), N('size'), 'sha256'], rows);
}

/** Black-hole nodes: left out of submissions after failing a job; '' when none were. */
export function excludedNodesTable(record: Pick<RunRecord, 'excludedNodes'>): string {
  const rows = list(record.excludedNodes).map((n) => [
    text(n.cluster),
    text(n.node),
    text(dateTime(n.until)),
    text(n.step),
    text(n.jobId),
    text(n.reason),
  ]);
  if (rows.length === 0) return '';
  return table('excluded-nodes', ['cluster', 'node', 'excluded until', 'step', 'job', 'why'], rows);
}

/** The picks gate before extraction. */
export function picksTable(record: Pick<RunRecord, 'picks'>): string {
  const p = record.picks;
  if (!p) return '<p class="no-data">No picks gate in the run record.</p>';
  return table(
    'picks',
    ['state', 'decided by', 'comment', 'decided at'],
    [
      [
        raw(`<span class="picks-${esc(p.state)}">${esc(p.state)}</span>`),
        text(p.by),
        text(p.comment),
        text(p.decidedAt === undefined ? undefined : dateTime(p.decidedAt)),
      ],
    ],
  );
}

/** Where the campaign's files are and which binary it staged. */
export function filesTable(record: Pick<RunRecord, 'campaignDir' | 'recordPath' | 'binary' | 'pixelSize'>): string {
  const b = record.binary;
  const rows: Cell[][] = [
    [text('campaign folder'), raw(`<code>${esc(record.campaignDir)}</code>`)],
    [text('run record'), raw(`<code>${esc(record.recordPath)}</code>`)],
    [
      text('particle pixel size'),
      text(Number.isFinite(record.pixelSize) ? `${fixed(record.pixelSize, 3)} Å` : undefined),
    ],
    [
      text('AreTomo2 binary'),
      raw(b ? `<code>${esc(b.remotePath)}</code> ${b.copied ? '(copied this run)' : '(already staged)'}` : NONE),
    ],
    [text('binary sha256'), raw(b ? `<code class="hash">${esc(b.sha256)}</code>` : NONE)],
  ];
  return table('files', ['item', 'value'], rows);
}

/** The campaign file's parameters as pretty JSON. */
export function parametersBlock(record: Pick<RunRecord, 'parameters'>): string {
  let json: string;
  try {
    json = JSON.stringify(record.parameters ?? null, null, 2) ?? 'null';
  } catch (err) {
    json = `(parameters could not be shown: ${String(err)})`;
  }
  return `<pre class="parameters">${esc(json)}</pre>`;
}
