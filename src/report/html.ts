/**
 * The report page: a self-contained HTML document (inline CSS, inline SVG and inline PNG
 * data; no scripts, fonts or external images) with the campaign header, the four plots,
 * the pictures of the tomograms and the final map when given, and the tables.
 */
import type { RunRecord } from '../model/campaign-status.js';
import { costPlot } from './cost-plot.js';
import {
  NONE,
  alignmentText,
  angstrom,
  dateTime,
  duration,
  groupThousands,
  parseTime,
  relionText,
  startText,
  truthText,
  usd,
} from './format.js';
import { fscPlot } from './fsc-plot.js';
import { iterationsPlot } from './iterations-plot.js';
import { esc } from './svg.js';
import {
  eventsTables,
  excludedNodesTable,
  filesTable,
  outputsTable,
  parametersBlock,
  picksTable,
  stepsTable,
  tiltSeriesTable,
} from './tables.js';
import { timeline } from './timeline.js';
import { picturesSection } from './pictures.js';
import type { ReportPictures } from '../pictures/read.js';

const CSS = `
:root { --ink: #1d2330; --muted: #5c6577; --line: #d5dae3; --bg: #ffffff; --panel: #f6f8fb;
  --pending: #c9d6ea; --running: #2f6db5; --accent: #c0392b; --good: #1e8449; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; \
font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; \
color: var(--ink); background: var(--bg); }
main { max-width: 1220px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 8px; margin: 0; }
.facts div { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; \
padding: 8px 10px; min-width: 0; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 2px 0 0; font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; \
padding: 10px 12px; min-width: 0; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
svg { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 12px; fill: var(--ink); }
svg .axis line { stroke: #7b8496; stroke-width: 1; }
svg .axis line.grid { stroke: #e3e7ee; }
svg .axis text { fill: var(--muted); }
svg .axis .axis-title { fill: var(--ink); font-size: 12px; }
svg .curve { fill: none; stroke: var(--running); stroke-width: 2; }
svg .fsc-point, svg .point { fill: var(--running); stroke: #fff; stroke-width: 1; }
svg .zero { stroke: #9aa3b2; stroke-width: 1; }
svg .threshold line { stroke: var(--accent); stroke-width: 1.5; }
svg .threshold text { fill: var(--accent); font-weight: 600; }
svg .final-res line, svg .resume-marker line, svg .picks-line line { stroke: #6c3483; stroke-width: 1.2; }
svg .final-res text, svg .resume-marker text, svg .picks-line text { fill: #6c3483; font-weight: 600; }
svg .stripe { fill: #eef2f7; }
svg .row-label { font-size: 12px; }
svg .row-empty { fill: var(--muted); font-style: italic; }
svg .bar-pending { fill: var(--pending); stroke: #9fb3d3; stroke-width: 0.5; }
svg .bar-running { fill: var(--running); }
svg .marker-hung path, svg .legend-hung path { fill: var(--accent); stroke: #fff; stroke-width: 0.8; }
svg .marker-relaxed path, svg .legend-relaxed path { fill: #e67e22; stroke: #fff; stroke-width: 0.8; }
svg .marker-lost path, svg .legend-lost path { fill: none; stroke: #6c3483; stroke-width: 2.2; stroke-linecap: round; }
svg .marker-requeued circle, svg .legend-requeued circle { fill: #fff; stroke: #6c3483; stroke-width: 2; }
svg .marker-resumed path, svg .legend-resumed path { fill: var(--good); stroke: #fff; stroke-width: 0.8; }
svg .legend text { fill: var(--muted); }
svg .cost-bar { fill: var(--running); }
svg .value { font-weight: 600; }
svg .value-note { fill: var(--muted); }
.no-data { color: var(--muted); font-style: italic; margin: 8px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.steps td { white-space: nowrap; }
table.steps tr.step-row td { border-bottom: none; }
table.steps tr.cmd-row td { padding-top: 0; }
table.steps { font-size: 12px; }
table.steps th, table.steps td { padding: 3px 6px; }
table.steps th { white-space: normal; vertical-align: bottom; }
table.files td:first-child { color: var(--muted); white-space: nowrap; width: 1%; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; }
code { overflow-wrap: anywhere; }
code.hash { font-size: 11px; }
details.cmd summary { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; cursor: pointer; \
font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); }
details.cmd code { display: block; white-space: pre-wrap; background: var(--panel); border: 1px solid var(--line); \
padding: 6px 8px; margin-top: 4px; }
details.step-events { margin: 4px 0; }
details.step-events summary { cursor: pointer; }
pre.parameters { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; \
overflow-x: auto; max-height: 560px; }
.ok { color: var(--good); font-weight: 600; }
.bad, .error { color: var(--accent); }
.bad { font-weight: 600; }
.pictures { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px; margin-bottom: 12px; }
.pictures figure { padding: 8px; }
.pictures img { display: block; image-rendering: pixelated; background: #000; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print { details { display: block; } details > *:not(summary) { display: block; } }
`;

function fact(label: string, value: string, title?: string): string {
  return `<div${title ? ` title="${esc(title)}"` : ''}><dt>${esc(label)}</dt><dd>${esc(value)}</dd></div>`;
}

/** Campaign id, name, dataset, profile, times, resolution, B-factor, cost, particles. */
function header(record: RunRecord): string {
  const start = parseTime(record.startedAt);
  const end = parseTime(record.endedAt);
  const took = start !== undefined && end !== undefined ? duration((end - start) / 1000) : NONE;
  const ts = Array.isArray(record.tiltSeries) ? record.tiltSeries : [];
  const ok = ts.filter((t) => t.tomogram && !t.error).length;
  const res = angstrom(record.finalResolution ?? undefined);
  const bf = groupThousands(record.bfactor);
  const campaign = `campaign <code class="campaign-id">${esc(record.campaign)}</code>`;
  const dataset = `dataset <span class="dataset">${esc(record.dataset)}</span>`;
  const profile = `profile <span class="profile">${esc(record.profile)}</span>`;
  const relion = record.relion ? ` · <span class="relion">${esc(relionText(record.relion))}</span>` : '';
  return [
    `<header><h1>${esc(record.name || record.campaign)}</h1>`,
    `<p class="sub">${campaign} · ${dataset} · ${profile}${relion}</p>`,
    '<dl class="facts">',
    fact('started', dateTime(record.startedAt), record.startedAt),
    fact('ended', dateTime(record.endedAt), record.endedAt),
    fact('wall time', took),
    fact('final resolution', res === NONE ? NONE : `${res} Å`),
    fact('B-factor', bf === NONE ? NONE : `${bf} Å²`),
    fact('total cost', usd(record.costUsd)),
    fact('particles', groupThousands(record.particles)),
    fact('tilt series', `${ok} of ${ts.length} reconstructed`),
    ...(record.alignment ? [fact('alignment', alignmentText(record.alignment))] : []),
    ...(record.start ? [fact('refine start', startText(record.start))] : []),
    ...(record.truth ? [fact('vs truth (synthetic)', truthText(record.truth))] : []),
    fact('cluster steps', String(Array.isArray(record.steps) ? record.steps.length : 0)),
    '</dl></header>',
  ].join('\n');
}

function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
}

function figure(caption: string, plot: string): string {
  return `<figure>${plot}<figcaption>${esc(caption)}</figcaption></figure>`;
}

/** When the report was generated (as given where it is not a readable time). */
function footer(generatedAt: string): string {
  const when = dateTime(generatedAt) === NONE ? generatedAt : dateTime(generatedAt);
  return `<footer>Report generated ${esc(when)}.</footer>`;
}

/** The whole page. */
export function page(record: RunRecord, generatedAt?: string, pictures?: ReportPictures): string {
  const title = `${record.name || record.campaign} — cryo-ET campaign report`;
  const fin = angstrom(record.finalResolution ?? undefined);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body><main>',
    header(record),
    section(
      'resolution',
      'Resolution',
      `<div class="plots">${[
        figure(
          `Fourier shell correlation (corrected); final resolution ${fin === NONE ? NONE : `${fin} Å`} at FSC = 0.143.`,
          fscPlot(record),
        ),
        figure('Resolution reached by each refine iteration (_rlnCurrentResolution).', iterationsPlot(record)),
      ].join('')}</div>`,
    ),
    section(
      'timeline-section',
      'Timeline',
      figure(
        'Each cluster step: light = pending in the queue, solid = running. Hover a bar or marker for details.',
        timeline(record),
      ),
    ),
    pictures === undefined ? '' : section('pictures', 'Pictures', picturesSection(pictures)),
    section(
      'cost',
      'Cost per stage',
      figure(`Running GPU time × GPUs × $/GPU-hour, summed per stage; total ${usd(record.costUsd)}.`, costPlot(record)),
    ),
    section('steps', 'Cluster steps', stepsTable(record)),
    section('events', 'Step events', eventsTables(record)),
    section('tilt-series', 'Tilt series', tiltSeriesTable(record)),
    section('outputs', 'Outputs', outputsTable(record)),
    excludedNodesTable(record) && section('excluded-nodes', 'Excluded nodes', excludedNodesTable(record)),
    section('picks', 'Picks gate', picksTable(record)),
    section('files', 'Campaign files', filesTable(record)),
    section('parameters', 'Parameters', parametersBlock(record)),
    generatedAt === undefined ? '' : footer(generatedAt),
    '</main></body>',
    '</html>',
    '',
  ].join('\n');
}
