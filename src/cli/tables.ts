/**
 * Pure text formatting for the `cryoet` campaign commands: the `list` table, the `status`
 * report of a live campaign (the `status` query) and of a finished one (its run record),
 * default campaign ids and file names. No I/O, no Temporal calls: unit-tested in
 * test/unit/cli-tables.test.ts.
 */
import type { ExcludedNode } from '../model/excluded-node.js';
import type { TypedSearchAttributes } from '@temporalio/common';
import type { StepSummary } from '../model/step-summary.js';
import { alignmentText, fixed, relionText, startText, truthText } from '../report/format.js';
import { CryoCostUsd, CryoIteration, CryoResolution, CryoStage, CryoStatus } from '../search-attributes.js';
import type { CampaignCancellation, CampaignStatus, RunRecord } from '../model/campaign-status.js';

/** Left-aligned columns, two spaces apart, no trailing blanks. */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[], indent = ''): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    indent +
    r
      .map((c, i) => (c ?? '').padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** `2025-03-01 12:00:05Z` (UTC, seconds). */
export function formatTime(at: Date | string | undefined): string {
  if (at === undefined) return '';
  const date = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(date.getTime())) return String(at);
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** `$0.1234` (four decimals: small CPU runs cost fractions of a cent). */
export function formatCost(usd: number | undefined): string {
  return usd === undefined ? '' : `$${usd.toFixed(4)}`;
}

/** `12.34 Å`. */
export function formatResolution(angstrom: number | null | undefined): string {
  if (angstrom === null) return 'none (the half maps agree at no shell)';
  return angstrom === undefined ? '' : `${angstrom.toFixed(2)} Å`;
}

/** `, B-factor -85 Å²` to follow a resolution; empty when there is none. */
export function bfactorSuffix(bfactor: number | undefined): string {
  return bfactor === undefined ? '' : `, B-factor ${bfactor.toFixed(0)} Å²`;
}

/** Seconds as `45s`, `12m05s`, `3h02m`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The default campaign id: `<name>-<yyyymmdd-hhmmss>` in UTC. */
export function defaultCampaignId(name: string, now: Date): string {
  const iso = now.toISOString(); // 2025-03-01T12:00:05.123Z
  return `${name}-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
}

/** A file name for something about campaign `id` ('/' in ids becomes '_'): `<id><suffix>`. */
export function fileNameFor(id: string, suffix: string): string {
  return `${id.replaceAll('/', '_')}${suffix}`;
}

// ---- list -------------------------------------------------------------------------------

/** One campaign as `cryoet list` shows it (from visibility: search attributes, no query). */
export interface CampaignRow {
  readonly id: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  readonly status: string;
  /** The campaign's own word (`CryoStatus`): running, waiting-approval, done, failed, cancelled. */
  readonly cryoStatus?: string;
  readonly stage?: string;
  readonly iteration?: number;
  readonly resolution?: number;
  readonly costUsd?: number;
  readonly startTime: string;
  readonly closeTime?: string;
}

/** The part of a visibility record (`WorkflowExecutionInfo`) a row needs. */
export interface VisibilityInfo {
  readonly workflowId: string;
  readonly status: { readonly name: string };
  readonly startTime: Date;
  readonly closeTime?: Date | undefined;
  readonly typedSearchAttributes: TypedSearchAttributes;
}

/** A list row from a visibility record. */
export function campaignRow(info: VisibilityInfo): CampaignRow {
  const sa = info.typedSearchAttributes;
  const stage = sa.get(CryoStage);
  const iteration = sa.get(CryoIteration);
  const resolution = sa.get(CryoResolution);
  const costUsd = sa.get(CryoCostUsd);
  const cryoStatus = sa.get(CryoStatus);
  return {
    id: info.workflowId,
    status: info.status.name,
    ...(cryoStatus === undefined ? {} : { cryoStatus }),
    ...(stage === undefined ? {} : { stage }),
    ...(iteration === undefined ? {} : { iteration }),
    ...(resolution === undefined ? {} : { resolution }),
    ...(costUsd === undefined ? {} : { costUsd }),
    startTime: info.startTime.toISOString(),
    ...(info.closeTime === undefined ? {} : { closeTime: info.closeTime.toISOString() }),
  };
}

/** Temporal's status, with the campaign's own word where it says more (`RUNNING waiting-approval`). */
export function statusWord(row: Pick<CampaignRow, 'status' | 'cryoStatus'>): string {
  return row.status === 'RUNNING' && row.cryoStatus !== undefined && row.cryoStatus !== 'running'
    ? `${row.status} ${row.cryoStatus}`
    : row.status;
}

/** The `cryoet list` table. */
export function listTable(rows: readonly CampaignRow[]): string {
  if (rows.length === 0) return 'no campaigns match';
  return formatTable(
    ['ID', 'STATUS', 'STAGE', 'ITER', 'RESOLUTION', 'COST', 'STARTED'],
    rows.map((r) => [
      r.id,
      statusWord(r),
      r.stage ?? '',
      r.iteration === undefined ? '' : String(r.iteration),
      formatResolution(r.resolution),
      formatCost(r.costUsd),
      formatTime(r.startTime),
    ]),
  );
}

/** The visibility query of `cryoet list`: every campaign, narrowed by `extra` if given. */
export function listQuery(extra?: string): string {
  const base = "WorkflowType = 'campaign'";
  const trimmed = extra?.trim();
  return trimmed ? `${base} AND (${trimmed})` : base;
}

// ---- status -------------------------------------------------------------------------------

/** A step's name with its tilt series where it has one: `reconstruct TS_03`. */
export function stepName(step: Pick<StepSummary, 'step' | 'tiltSeries'>): string {
  return step.tiltSeries && !step.step.includes(step.tiltSeries) ? `${step.step} ${step.tiltSeries}` : step.step;
}

/** The finished steps: rung, GPU, node, attempts, pending and run time, cost. */
export function stepsTable(steps: readonly StepSummary[], indent = '  '): string {
  if (steps.length === 0) return `${indent}(none finished yet)`;
  return formatTable(
    ['STEP', 'RUNG', 'GPU', 'NODE', 'ATTEMPTS', 'PENDING', 'RUN', 'COST'],
    steps.map((s) => [
      stepName(s),
      `${s.rung} ${s.cluster}/${s.partition} ${s.gres}`,
      s.gpuType,
      s.node ?? '',
      String(s.attempts),
      formatSeconds(s.pendingSeconds),
      formatSeconds(s.runSeconds),
      formatCost(s.costUsd),
    ]),
    indent,
  );
}

export function picksText(picks: CampaignStatus['picks']): string {
  const by = picks.by ? ` by ${picks.by}` : '';
  const at = picks.decidedAt ? ` at ${formatTime(picks.decidedAt)}` : '';
  const comment = picks.comment ? `: ${picks.comment}` : '';
  return `${picks.state}${by}${at}${comment}`;
}

export function refineText(refine: CampaignStatus['refine']): string {
  if (refine.iteration === undefined) return refine.finished ? 'finished' : 'not started';
  const res = refine.resolution === undefined ? '' : `, ${formatResolution(refine.resolution)}`;
  return `iteration ${refine.iteration}${res}${refine.finished ? ' (finished)' : ''}`;
}

/** Label/value lines, labels padded to one width. */
function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** `cryoet status` of a running campaign (the `status` query). */
export function statusText(s: CampaignStatus, workflowStatus = 'RUNNING'): string {
  const series = Object.entries(s.tiltSeries);
  const counts = (['waiting', 'running', 'done', 'failed', 'cancelled'] as const)
    .map((state) => [state, series.filter(([, t]) => t.status === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const parts = [
    fields([
      ['campaign', s.id],
      ['name', `${s.name} · ${s.dataset} · ${s.profile} profile`],
      ['workflow', workflowStatus],
      ['started', formatTime(s.startedAt)],
      ['stage', s.stage],
      ['picks', picksText(s.picks)],
      ['particles', s.particles === undefined ? undefined : String(s.particles)],
      ['refine', refineText(s.refine)],
      [
        'final',
        s.finalResolution === undefined
          ? undefined
          : `${formatResolution(s.finalResolution)}${bfactorSuffix(s.bfactor)}`,
      ],
      ['cost', formatCost(s.costUsd)],
      ['error', s.error],
    ]),
    '',
    `tilt series (${series.length}${counts ? `: ${counts}` : ''})`,
    series.length === 0
      ? '  (none)'
      : formatTable(
          ['NAME', 'STATE', 'DETAIL'],
          series.map(([name, t]) => [name, t.status, t.error ?? t.tomogram ?? '']),
          '  ',
        ),
    '',
    `steps (${s.steps.length} finished)`,
    stepsTable(s.steps),
    '',
    'running',
    Object.keys(s.running).length === 0
      ? '  (nothing)'
      : formatTable(
          ['STEP', 'WORKFLOW (relax target)'],
          Object.entries(s.running).map(([k, v]) => [k, v]),
          '  ',
        ),
    ...excludedLines(s.excludedNodes),
    ...cancellationLines(s.cancellation),
  ];
  return parts.join('\n');
}

/** What a cancel stopped: what was running then and the Slurm jobs cancelled; nothing if not cancelled. */
export function cancellationLines(c: CampaignCancellation | undefined): string[] {
  if (!c) return [];
  const running = Object.entries(c.running);
  return [
    '',
    `cancelled at stage ${c.stage} (${formatTime(c.requestedAt)}; everything stopped by ${formatTime(c.endedAt)}), ` +
      `${c.stepsCompleted} step(s) completed, ${formatCost(c.costUsd)}`,
    `was running (${running.length})`,
    running.length === 0
      ? '  (nothing)'
      : formatTable(
          ['STEP', 'WORKFLOW'],
          running.map(([k, v]) => [k, v]),
          '  ',
        ),
    `Slurm jobs cancelled (${c.jobsCancelled.length})`,
    c.jobsCancelled.length === 0
      ? '  (none)'
      : formatTable(
          ['STEP', 'JOB', 'CLUSTER', 'WORKFLOW'],
          c.jobsCancelled.map((j) => [j.step, j.jobId, j.cluster ?? '', j.workflowId]),
          '  ',
        ),
  ];
}

/** The black-hole nodes section; nothing when no node was excluded. */
export function excludedLines(nodes: readonly ExcludedNode[] | undefined): string[] {
  if (!nodes || nodes.length === 0) return [];
  return [
    '',
    `excluded nodes (${nodes.length})`,
    formatTable(
      ['CLUSTER', 'NODE', 'UNTIL', 'STEP', 'JOB', 'WHY'],
      nodes.map((n) => [n.cluster, n.node, formatTime(n.until), n.step ?? '', n.jobId ?? '', n.reason]),
      '  ',
    ),
  ];
}

/** `cryoet status` of a completed campaign (its run record). */
export function runRecordText(r: RunRecord): string {
  const failed = r.tiltSeries.filter((t) => t.error !== undefined).length;
  const n = r.iterations.length;
  const lastIteration = n ? `, last ${formatResolution(r.iterations[n - 1]!.resolution)}` : '';
  return [
    fields([
      ['campaign', r.campaign],
      ['name', `${r.name} · ${r.dataset} · ${r.profile} profile`],
      ...(r.relion ? [['relion', `${relionText(r.relion)} · ${r.relion.program}`] as [string, string]] : []),
      ['workflow', 'COMPLETED'],
      ['started', formatTime(r.startedAt)],
      ['ended', formatTime(r.endedAt)],
      ['picks', picksText(r.picks)],
      ...(r.alignment ? [['alignment', alignmentText(r.alignment)] as [string, string]] : []),
      ...(r.start ? [['start', startText(r.start)] as [string, string]] : []),
      ...(r.truth ? [['truth', truthText(r.truth)] as [string, string]] : []),
      ['particles', `${r.particles} at ${fixed(r.pixelSize, 3)} Å/px`],
      ['refine', `${r.iterations.length} iteration(s)${lastIteration}`],
      ['final', `${formatResolution(r.finalResolution)} (FSC 0.143), B-factor ${r.bfactor.toFixed(0)} Å²`],
      ['cost', formatCost(r.costUsd)],
      ['folder', r.campaignDir],
      ['record', r.recordPath],
    ]),
    '',
    `tilt series (${r.tiltSeries.length}${failed ? `, ${failed} failed` : ''})`,
    formatTable(
      ['NAME', 'STATE', 'DETAIL'],
      r.tiltSeries.map((t) => [t.name, t.error === undefined ? 'done' : 'failed', t.error ?? t.tomogram ?? '']),
      '  ',
    ),
    '',
    `steps (${r.steps.length})`,
    stepsTable(r.steps),
    '',
    `outputs (${r.outputs.length})`,
    ...r.outputs.map((o) => `  ${o.path}  ${o.bytes} bytes  sha256 ${o.sha256.slice(0, 12)}`),
    ...excludedLines(r.excludedNodes),
  ].join('\n');
}

/** `cryoet status` of a campaign that ended without a run record. */
export function closedText(
  id: string,
  workflowStatus: string,
  failure: string | undefined,
  closeTime?: string,
  cancellation?: CampaignCancellation,
): string {
  return [
    fields([
      ['campaign', id],
      ['workflow', workflowStatus],
      ['closed', formatTime(closeTime)],
      ['failure', failure],
    ]),
    ...cancellationLines(cancellation),
  ].join('\n');
}

// ---- watch ------------------------------------------------------------------------------
