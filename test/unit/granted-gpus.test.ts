/**
 * Cost by what Slurm granted: sacct's AllocTRES (as the dev cluster's Slurm 22.05 prints it),
 * the node's gres when accounting names no type, and the ledger pricing each running interval
 * by its job's granted type, saying which price applied and why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pricedGpus, summarizeStep } from '../../src/campaign/job-summary.js';
import { buildGrantedArgs, grantedGpus, parseAllocTres, parseGranted } from '../../src/slurm/granted.js';
import { parseSinfoNodes } from '../../src/slurm/sinfo.js';
import type { PlacementRung } from '../../src/slurm/placement.js';
import type { JobEvent, JobRecord } from '../../src/model/job-record.js';

const PRICES = { t4: 0.3375, a10g: 0.45, default: 0.4 };
const ANY4: PlacementRung = { cluster: 'dev', partition: 'gpu', gres: 'gpu:4', timeScale: 1 };
const A10G: PlacementRung = { cluster: 'dev', partition: 'gpu', gres: 'gpu:a10g:4', timeScale: 1 };

describe('what Slurm granted', () => {
  it('AllocTRES: the typed GPU entry, the count from gres/gpu; no GPUs → undefined', () => {
    assert.deepEqual(parseAllocTres('billing=1,cpu=1,gres/gpu:t4=2,gres/gpu=2,mem=500M,node=1'), {
      type: 't4',
      count: 2,
    });
    assert.deepEqual(parseAllocTres('cpu=4,gres/gpu=4,mem=16G,node=1'), { count: 4 });
    assert.deepEqual(parseAllocTres('gres/gpu:a100=1,gres/gpu:t4=3,gres/gpu=4'), { type: 't4', count: 4 });
    assert.equal(parseAllocTres('billing=1,cpu=1,mem=500M,node=1'), undefined);
    assert.equal(parseAllocTres(''), undefined);
  });

  it("one sacct call for the step's jobs; rows with node and GPUs", () => {
    assert.deepEqual(buildGrantedArgs(['96', '97', '96']), [
      'sacct',
      '-X',
      '-n',
      '--parsable2',
      '-j',
      '96,97',
      '-o',
      'JobIDRaw,NodeList,AllocTRES',
    ]);
    assert.throws(() => buildGrantedArgs(['96;rm']), /job id "96;rm": expected digits/);
    const rows = parseGranted(
      '96|n1|billing=1,cpu=1,gres/gpu:t4=2,gres/gpu=2,mem=500M,node=1\n97|None assigned|\n98|n2|cpu=1,gres/gpu=4\n',
    );
    assert.deepEqual(rows, [
      { jobId: '96', node: 'n1', gpus: { type: 't4', count: 2 } },
      { jobId: '97' },
      { jobId: '98', node: 'n2', gpus: { count: 4 } },
    ]);
  });

  it("no typed TRES in accounting: the node's only GPU type; a node with two types names none", () => {
    const nodes = parseSinfoNodes('n2|gpu|gpu:t4:4|idle\nn3|gpu|gpu:t4:2,gpu:a10g:2|idle\n');
    const rows = parseGranted('96|n1|gres/gpu:t4=2,gres/gpu=2\n98|n2|gres/gpu=4\n99|n3|gres/gpu=4\n');
    assert.deepEqual(grantedGpus(rows, nodes), [
      { jobId: '96', gpuType: 't4', gpus: 2, node: 'n1', source: 'sacct AllocTRES' },
      { jobId: '98', gpuType: 't4', gpus: 4, node: 'n2', source: 'node gres' },
      { jobId: '99', gpus: 4, node: 'n3', source: 'node gres' },
    ]);
  });
});

describe('the cost ledger prices what was granted', () => {
  it('a gpu:4 rung placed on T4 nodes is priced as t4, and says so', () => {
    const p = pricedGpus(ANY4, { jobId: '96', gpuType: 't4', gpus: 4, node: 'n1', source: 'sacct AllocTRES' }, PRICES);
    assert.deepEqual(p, {
      gpuType: 't4',
      gpus: 4,
      price: 0.3375,
      basis: 't4 as granted (sacct AllocTRES of job 96 on n1)',
    });
  });

  it("a granted type without a price is priced at default; no record: the rung's type, or default for any type", () => {
    const h100 = pricedGpus(ANY4, { jobId: '7', gpuType: 'h100', gpus: 4, source: 'sacct AllocTRES' }, PRICES);
    assert.equal(h100.price, 0.4);
    assert.equal(h100.basis, 'default: h100 granted (sacct AllocTRES of job 7) has no price');
    assert.equal(
      pricedGpus(A10G, undefined, PRICES).basis,
      "a10g from the rung's gres gpu:a10g:4 (no allocation record)",
    );
    const any = pricedGpus(ANY4, { jobId: '8', gpus: 4, source: 'node gres' }, PRICES);
    assert.deepEqual(any, {
      gpuType: 'any',
      gpus: 4,
      price: 0.4,
      basis: 'default: the rung asks gpu:4 (node gres of job 8 names no type)',
    });
  });

  it("summarizeStep: each running interval at its own job's granted price", () => {
    const T0 = Date.parse('2026-12-03T10:00:00.000Z');
    const at = (s: number) => new Date(T0 + s * 1000).toISOString();
    const ev = (s: number, kind: JobEvent['kind'], fields: Partial<JobEvent> = {}): JobEvent => ({
      at: at(s),
      kind,
      rung: 0,
      cluster: 'dev',
      ...fields,
    });
    const events: JobEvent[] = [
      ev(0, 'submitted', { jobId: '101' }),
      ev(10, 'observed', { jobId: '101', state: 'RUNNING', node: 'c1' }),
      ev(3610, 'lost', { jobId: '101', state: 'NODE_FAIL', node: 'c1' }),
      ev(3620, 'resubmitted', { jobId: '102' }),
      ev(3630, 'observed', { jobId: '102', state: 'RUNNING', node: 'n1' }),
      ev(7230, 'completed', { jobId: '102', state: 'COMPLETED', node: 'n1' }),
    ];
    const record: JobRecord = {
      step: 'refine',
      rung: 0,
      attempt: 2,
      reclaims: 1,
      hung: [],
      events,
      granted: [
        { jobId: '101', gpuType: 'a10g', gpus: 4, node: 'c1', source: 'sacct AllocTRES' },
        { jobId: '102', gpuType: 't4', gpus: 4, node: 'n1', source: 'sacct AllocTRES' },
      ],
    };
    const s = summarizeStep(record, [ANY4], PRICES, ['true']);
    // One hour on 4 a10g, one hour on 4 t4.
    assert.equal(s.costUsd, 3.15);
    assert.equal(s.gpuType, 't4');
    assert.equal(s.pricePerGpuHour, 0.3375);
    assert.equal(s.priceBasis, 't4 as granted (sacct AllocTRES of job 102 on n1)');
    const old = summarizeStep({ ...record, granted: undefined }, [ANY4], PRICES, ['true']);
    assert.equal(old.costUsd, 8 * 0.4);
    assert.equal(old.priceBasis, undefined);
  });
});
