/**
 * The GPUs Slurm granted a step's finished jobs (slurm/granted.ts): one sacct call for the
 * job ids, and one sinfo of their nodes when accounting names no GPU type. Never fails the
 * step: where accounting is off or the call fails, the answer is empty and the cost ledger
 * prices the rung's gres, saying so.
 */
import { buildGrantedArgs, grantedGpus, parseGranted } from '../slurm/granted.js';
import type { GrantedGpus } from '../model/job-record.js';
import { parseSinfoNodes, SINFO_NODES_ARGS, type SinfoNode } from '../slurm/sinfo.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { shellJoin } from '../shell/quote.js';
import type { ActivityDeps } from './deps.js';
import { toApplicationFailure } from './failures.js';
import { whileHeartbeating } from './heartbeat.js';

export interface GrantedGpusInput {
  readonly cluster: string;
  readonly jobIds: readonly string[];
}

export function createGrantedGpusActivities(deps: ActivityDeps) {
  async function run(cluster: string, argv: readonly string[]) {
    const settings = deps.cluster(cluster);
    return deps.pool
      .get(cluster)
      .exec(exportPrefix(settings.environment) + shellJoin(argv), { timeoutMs: settings.commandTimeoutMs });
  }

  return {
    async grantedGpus(input: GrantedGpusInput): Promise<GrantedGpus[]> {
      return toApplicationFailure(() =>
        whileHeartbeating(async () => {
          if (input.jobIds.length === 0) return [];
          const sacct = await run(input.cluster, buildGrantedArgs(input.jobIds));
          if (sacct.exitCode !== 0) return [];
          const rows = parseGranted(sacct.stdout);
          const untyped = rows.filter((r) => r.gpus !== undefined && r.gpus.type === undefined && r.node !== undefined);
          let nodes: SinfoNode[] = [];
          // Node lists as Slurm writes them (`n1`, `gpu-[1-2]`); anything else is not asked about.
          const names = [...new Set(untyped.map((r) => r.node!))].filter((n) => /^[A-Za-z0-9._,[\]-]+$/.test(n));
          if (names.length > 0) {
            const sinfo = await run(input.cluster, [...SINFO_NODES_ARGS, '-n', names.join(',')]);
            if (sinfo.exitCode === 0) nodes = parseSinfoNodes(sinfo.stdout);
          }
          return grantedGpus(rows, nodes);
        }),
      );
    },
  };
}
