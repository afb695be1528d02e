import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderReport } from '../../src/report/index.js';
import type { RunRecord } from '../../src/model/campaign-status.js';

/** A fresh, mutable copy of the fixture (a real run record, hand-extended). */
function fixture(): RunRecord {
  return JSON.parse(readFileSync(new URL('../fixtures/run-record.json', import.meta.url), 'utf8')) as RunRecord;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `record` with some fields replaced (the record's fields are readonly). */
function withFields(record: RunRecord, fields: Partial<Mutable<RunRecord>>): RunRecord {
  return { ...record, ...fields };
}

/** Each `<svg id=…>…</svg>` by id. */
function svgs(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<svg\b[^>]*\bid="([^"]+)"[\s\S]*?<\/svg>/g)) out.set(m[1]!, m[0]);
  return out;
}

const count = (text: string, needle: string | RegExp): number =>
  typeof needle === 'string'
    ? text.split(needle).length - 1
    : [...text.matchAll(new RegExp(needle.source, needle.flags.includes('g') ? needle.flags : `${needle.flags}g`))]
        .length;

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const VOID = new Set([
  'meta',
  'link',
  'br',
  'hr',
  'img',
  'input',
  'col',
  'area',
  'base',
  'wbr',
  'source',
  'track',
  'embed',
  'param',
]);

/**
 * A tiny well-formedness check: every tag closes in order, attributes are double-quoted
 * with no raw `<` or stray `&`, text holds no raw `<` and only known entities. `html`
 * allows void elements and a DOCTYPE; otherwise the input must parse as XML.
 */
function assertWellFormed(doc: string, mode: 'xml' | 'html'): void {
  const stack: string[] = [];
  const token =
    /<!DOCTYPE[^>]*>|<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)|(<)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = token.exec(doc)) !== null) {
    pos = token.lastIndex;
    const [whole, closing, name, attrs, selfClosing, text, stray] = m;
    if (stray !== undefined) assert.fail(`raw "<" at ${m.index}: ${JSON.stringify(doc.slice(m.index, m.index + 60))}`);
    if (whole.startsWith('<!DOCTYPE')) {
      assert.equal(mode, 'html', 'a DOCTYPE inside an SVG');
      continue;
    }
    if (whole.startsWith('<!--')) continue;
    if (text !== undefined) {
      assert.ok(!text.replace(ENTITY, '').includes('&'), `stray "&" in text ${JSON.stringify(text.slice(0, 80))}`);
      continue;
    }
    for (const a of attrs!.matchAll(/="([^"]*)"/g)) {
      assert.ok(!a[1]!.includes('<'), `raw "<" in attribute ${JSON.stringify(a[1])}`);
      assert.ok(!a[1]!.replace(ENTITY, '').includes('&'), `stray "&" in attribute ${JSON.stringify(a[1])}`);
    }
    const tag = mode === 'html' ? name!.toLowerCase() : name!;
    if (closing) {
      assert.equal(stack.pop(), tag, `</${tag}> closes the wrong element at ${m.index}`);
    } else if (!selfClosing && !(mode === 'html' && VOID.has(tag))) {
      stack.push(tag);
    }
  }
  assert.equal(pos, doc.length, `could not tokenize at ${pos}: ${JSON.stringify(doc.slice(pos, pos + 60))}`);
  assert.deepEqual(stack, [], `unclosed: ${stack.join(' > ')}`);
}

/** The well-formedness of a whole page and of each of its SVGs (as XML). */
function assertPageWellFormed(html: string): void {
  assertWellFormed(html, 'html');
  assert.equal(count(html, /<svg\b/), count(html, '</svg>'), 'every <svg> has a </svg>');
  for (const [id, svg] of svgs(html)) {
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${id} declares the SVG namespace`);
    assertWellFormed(svg, 'xml');
  }
}

describe('the well-formedness check itself', () => {
  it('rejects broken markup and accepts clean markup', () => {
    for (const bad of [
      '<svg><g></svg>',
      '<svg>a & b</svg>',
      '<svg><text x="<">t</text></svg>',
      '<svg><g>',
      '<svg>1 < 2</svg>',
      '<svg><rect x=1/></svg>',
      '<svg><g></G></svg>',
    ]) {
      assert.throws(() => assertWellFormed(bad, 'xml'), `accepted ${bad}`);
    }
    assertWellFormed('<svg x="a &amp; b"><g><rect x="1"/><text>1 &lt; 2 &#39;ok&#39;</text></g></svg>', 'xml');
    assertWellFormed('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body><p>x</p></body></html>', 'html');
    assert.throws(() => assertWellFormed('<!DOCTYPE html><svg></svg>', 'xml'));
  });
});

describe('renderReport on the fixture', () => {
  const record = fixture();
  const html = renderReport(record);
  const plots = svgs(html);

  it('is one well-formed HTML page with well-formed SVGs', () => {
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.ok(html.trimEnd().endsWith('</html>'));
    assertPageWellFormed(html);
  });

  it('is self-contained: no scripts, external resources or links out', () => {
    assert.doesNotMatch(html, /<script\b/i);
    assert.doesNotMatch(html, /<link\b|<img\b|<iframe\b|@import|url\(/i);
    assert.doesNotMatch(html, /\b(src|href)=/i);
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<]+/g)].map((m) => m[0]);
    assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg'], 'the only URL is the SVG namespace');
  });

  it('has a header with the campaign, dataset, profile, times, resolution, B-factor, cost and particles', () => {
    const header = html.slice(html.indexOf('<header>'), html.indexOf('</header>'));
    for (const fragment of [
      record.campaign,
      record.name,
      'EMPIAR-10164 (synthetic stand-in, embedded profile)',
      record.profile,
      '2026-11-30 09:14:03 UTC',
      '2026-11-30 12:19:16 UTC',
      '35.56 Å',
      '−23,112 Å²',
      '$4.43',
      '>40<',
    ]) {
      assert.ok(header.includes(fragment), `header lacks ${fragment}`);
    }
  });

  it('has the four plots', () => {
    assert.deepEqual([...plots.keys()].sort(), ['cost-plot', 'fsc-plot', 'iterations-plot', 'timeline']);
    assert.doesNotMatch(html, /class="no-data"/);
  });

  it('FSC plot: the 0.143 threshold, the final-resolution marker and one point per finite shell', () => {
    const fsc = plots.get('fsc-plot')!;
    assert.match(fsc, /<g class="threshold">.*?<line [^>]*stroke-dasharray="[^"]+"\/>.*?>0\.143<\/text><\/g>/);
    assert.match(fsc, /<g class="final-res">.*?>35\.56 Å<\/text><\/g>/);
    // The fixture's first shell is RELION's 999 Å at frequency 0: skipped.
    assert.equal(record.fsc[0]!.resolution, 999);
    assert.equal(count(fsc, 'class="fsc-point"'), record.fsc.length - 1);
    // x ticks are labelled in Å, decreasing left to right.
    const ticks = [...fsc.matchAll(/<g class="axis axis-x">(.*?)<\/g>/g)][0]![1]!;
    const labels = [...ticks.matchAll(/text-anchor="middle">([\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    assert.ok(labels.length >= 4, `x tick labels: ${labels.join(', ')}`);
    assert.deepEqual(
      labels,
      [...labels].sort((a, b) => b - a),
    );
  });

  it('iterations plot: one point per iteration, y axis in Å and lower is better', () => {
    const it = plots.get('iterations-plot')!;
    assert.equal(count(it, 'class="point"'), record.iterations.length);
    assert.match(it, /resolution \(Å\) — lower is better/);
    assert.match(it, /<g class="resume-marker"><title>continuing from iteration 4/);
  });

  it(
    'timeline: one row per step, labelled with the tilt series, ' + 'and a marker per hung/relaxed/lost/resumed event',
    () => {
      const tl = plots.get('timeline')!;
      assert.equal(count(tl, '<g class="row"'), record.steps.length);
      for (const s of record.steps) {
        const label = s.tiltSeries ? `${s.step} ${s.tiltSeries}` : s.step;
        assert.ok(tl.includes(`data-step="${label}"`), `no row for ${label}`);
      }
      assert.ok(tl.includes('>reconstruct TS_01</text>'));
      const events = record.steps.flatMap((s) => s.events);
      for (const kind of ['hung', 'relaxed', 'lost', 'resumed'] as const) {
        const n = events.filter((e) => e.kind === kind).length;
        assert.ok(n > 0, `the fixture has a ${kind} event`);
        assert.equal(count(tl, `class="marker marker-${kind}"`), n, kind);
      }
      // Markers carry tooltips; the legend names them.
      assert.match(tl, /class="marker marker-hung" [^>]*><title>reconstruct TS_45: hung at /);
      assert.match(tl, /class="marker marker-lost" [^>]*><title>refine: lost at [^<]*NODE_FAIL \(NodeDown\)/);
      for (const word of [
        'pending',
        'running',
        'hung (cancelled)',
        'relaxed to the next rung',
        'node lost (reclaimed)',
        'resumed',
      ]) {
        assert.ok(tl.includes(`>${word}</text>`), `legend lacks ${word}`);
      }
      assert.ok(!tl.includes('requeued by Slurm'), 'the legend names only the markers drawn');
      assert.ok(
        count(tl, 'class="bar-running"') >= record.steps.length,
        'a running bar for every step (legend swatch included)',
      );
      assert.ok(count(tl, 'class="bar-pending"') >= record.steps.length);
    },
  );

  it('timeline bars stay inside the plot area', () => {
    const tl = plots.get('timeline')!;
    const width = Number(/viewBox="0 0 (\d+) /.exec(tl)![1]);
    for (const m of tl.matchAll(/<rect class="bar-(?:pending|running)" x="([\d.-]+)" y="[\d.-]+" width="([\d.-]+)"/g)) {
      const [x, w] = [Number(m[1]), Number(m[2])];
      if (x < 0) continue; // legend swatches are drawn around their own origin
      assert.ok(x >= 190 - 0.1 && x + w <= width + 0.1, `bar ${x}+${w} outside 190..${width}`);
    }
  });

  it('cost plot: a bar per stage in pipeline order, labels in $ summing to the record’s cost', () => {
    const cost = plots.get('cost-plot')!;
    const stages = [...cost.matchAll(/data-stage="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(stages, ['probe', 'reconstruct', 'extract', 'refine', 'postprocess']);
    const labels = [...cost.matchAll(/<text class="value"[^>]*>\$([\d.,]+)<\/text>/g)].map((m) =>
      Number(m[1]!.replaceAll(',', '')),
    );
    assert.equal(labels.length, stages.length);
    const sum = labels.reduce((a, b) => a + b, 0);
    assert.ok(
      Math.abs(sum - record.costUsd) <= 0.005 * labels.length,
      `labels sum to ${sum}, record says ${record.costUsd}`,
    );
    const bySteps = record.steps.reduce((a, s) => a + s.costUsd, 0);
    assert.ok(Math.abs(bySteps - record.costUsd) < 1e-5, 'the fixture’s total is the sum of its steps');
  });

  it('tables: steps with their command lines, tilt series, outputs, picks and parameters', () => {
    assert.equal(count(html, '<tr class="step-row">'), record.steps.length);
    assert.equal(count(html, '<tr class="cmd-row">'), record.steps.length);
    assert.match(html, /<code>bash -c &#39;set -euo pipefail\n/);
    assert.ok(html.includes('48221, 48222'), 'the refine’s two job ids');
    assert.ok(html.includes('>0.3375<'), 't4 price');
    assert.ok(html.includes('TS_99.mrc has 41 tilt images but TS_99.rawtlt has 40 angles'));
    for (const o of record.outputs) assert.ok(html.includes(o.sha256), `output ${o.path}`);
    assert.ok(html.includes('3,146,752'));
    assert.ok(html.includes('picks checked on TS_01 and TS_43; fine'));
    assert.ok(html.includes('<pre class="parameters">{\n  &quot;name&quot;: &quot;embedded-10164&quot;,'));
  });

  it('is deterministic; generatedAt adds a footer', () => {
    assert.equal(renderReport(fixture()), html);
    assert.doesNotMatch(html, /<footer>/);
    assert.match(
      renderReport(record, { generatedAt: '2026-12-01T08:00:00.000Z' }),
      /<footer>Report generated 2026-12-01 08:00:00 UTC\.<\/footer>/,
    );
  });
});

describe('renderReport escaping', () => {
  const HOSTILE = '<script>alert(1)</script>';
  const QUOTES = `echo "a&b" 'c' <in >out`;
  const base = fixture();
  const steps = base.steps.map((s, i) =>
    i === 0
      ? {
          ...s,
          command: ['bash', '-c', QUOTES],
          node: '<b>n1</b>',
          events: s.events.map((e) => ({ ...e, note: `${HOSTILE}</svg>&` })),
        }
      : s.tiltSeries === 'TS_01'
        ? { ...s, tiltSeries: 'TS_"01"&<x>' }
        : s,
  );
  const record = withFields(base, {
    name: `<img src=x onerror=alert(1)> & "name"`,
    dataset: "it's <dataset>",
    tiltSeries: [...base.tiltSeries, { name: 'TS_<bad>', error: HOSTILE }],
    picks: { state: 'approved', by: '<i>eve</i>', comment: HOSTILE, decidedAt: base.picks.decidedAt! },
    steps,
    parameters: { ...base.parameters, name: HOSTILE },
    outputs: [...base.outputs, { path: '/x/<y>&"z".mrc', bytes: 1, sha256: '<sha>' }],
    excludedNodes: [
      { cluster: 'dev', node: '<n9>', until: '2025-03-01T13:00:00Z', reason: HOSTILE, jobId: '7', step: 'refine' },
    ],
  });
  const html = renderReport(record);

  it('lists excluded nodes, escaped', () => {
    assert.match(html, /<section id="excluded-nodes"><h2>Excluded nodes<\/h2>/);
    assert.ok(html.includes('&lt;n9&gt;'));
    assert.doesNotMatch(renderReport(base), /excluded-nodes/);
  });

  it('never lets a record string become markup', () => {
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img|<b>|<i>|<x>|<bad>|<sha>|<y>|<in /);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;name&quot;'));
    assert.ok(html.includes('it&#39;s &lt;dataset&gt;'));
  });

  it('escapes the command line &<>"\' in <code>', () => {
    assert.ok(
      html.includes(
        `<code>bash -c &#39;echo &quot;a&amp;b&quot; &#39;\\&#39;&#39;c&#39;\\&#39;&#39; &lt;in &gt;out&#39;</code>`,
      ),
    );
  });

  it('keeps the page and every SVG well-formed (tooltips, labels and data attributes escaped)', () => {
    assert.ok(html.includes('data-step="reconstruct TS_&quot;01&quot;&amp;&lt;x&gt;"'));
    assert.equal(count(html, /<svg\b/), 4);
    assertPageWellFormed(html);
  });
});

describe('renderReport with empty or missing data', () => {
  const base = fixture();

  it('renders "no data" notes in place of every plot for an empty record', () => {
    const record = withFields(base, { steps: [], iterations: [], fsc: [], outputs: [], tiltSeries: [], costUsd: 0 });
    const html = renderReport(record);
    assert.equal(count(html, /<svg\b/), 0);
    for (const id of ['fsc-plot', 'iterations-plot', 'timeline', 'cost-plot']) {
      assert.match(html, new RegExp(`<p class="no-data" id="${id}-empty">`), id);
    }
    assertPageWellFormed(html);
  });

  it('FSC with only frequency-0 or non-numeric shells is "no data"', () => {
    const record = withFields(base, {
      fsc: [
        { resolution: 999, fsc: 1 },
        { resolution: Infinity, fsc: 1 },
        { resolution: 20, fsc: NaN },
      ],
    });
    const html = renderReport(record);
    assert.match(html, /id="fsc-plot-empty"/);
    assert.ok(svgs(html).has('iterations-plot'));
  });

  it('a step without events gets an empty row; a single iteration and a zero cost still plot', () => {
    const steps = base.steps.map((s, i) => (i === 0 ? { ...s, events: [], costUsd: 0 } : s));
    const record = withFields(base, { steps, iterations: [{ iteration: 1, resolution: 60 }] });
    const html = renderReport(record);
    const tl = svgs(html).get('timeline')!;
    assert.equal(count(tl, '<g class="row"'), steps.length);
    assert.equal(count(tl, '>no events</text>'), 1);
    assert.equal(count(svgs(html).get('iterations-plot')!, 'class="point"'), 1);
    assertPageWellFormed(html);
  });

  it('an all-zero cost and one step without events or times still render', () => {
    const step = { ...base.steps[0]!, events: [], costUsd: 0, runSeconds: 0 };
    const record = withFields(base, { steps: [step], costUsd: 0, startedAt: 'not a time', endedAt: '' });
    const html = renderReport(record);
    assert.match(html, /id="timeline-empty"/, 'no times at all: the timeline has nothing to place');
    assert.match(svgs(html).get('cost-plot')!, /<text class="value"[^>]*>\$0\.00<\/text>/);
    assertPageWellFormed(html);
  });

  it('an older record without name, startedAt, endedAt, picks, iterations or step tilt series renders', () => {
    const old = JSON.parse(JSON.stringify(base)) as Record<string, unknown> & { steps: Record<string, unknown>[] };
    for (const k of ['name', 'startedAt', 'endedAt', 'picks', 'iterations']) delete old[k];
    for (const s of old.steps) delete s['tiltSeries'];
    const html = renderReport(old as unknown as RunRecord);
    const plots = svgs(html);
    assert.ok(plots.has('timeline'), 'times come from the events when startedAt is missing');
    assert.match(html, /id="iterations-plot-empty"/);
    assert.match(html, /No picks gate in the run record/);
    assert.match(html, /<h1>campaign-mx2mp6kd-d13dfe<\/h1>/);
    assertPageWellFormed(html);
  });
});
