/**
 * `cryoet demo` (until the campaign exists): starts a worker in this process, runs one
 * clusterJob on the embedded cluster down the configured placement ladder (its first
 * rung pins A10G, whose spot pool is empty: the job hangs, is relaxed to any GPU and
 * runs on a T4), and prints the job's record and the Temporal UI address.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { CryoConfig } from '../config.js';
import { createWorker } from '../worker.js';
import { connectClient, placementFromConfig, runClusterJob, workflowUiUrl } from '../client.js';

/** Runs the demo; true when the job succeeded. */
export async function runDemo(config: CryoConfig, now: Date = new Date()): Promise<boolean> {
  const label = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const workflowId = `cryoet/demo/${label}/hello`;
  // The demo prints its own summary; keep the SDK to warnings.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { worker, connection } = await createWorker(config);
  const { client, close } = await connectClient(config);
  console.log(`Temporal UI: ${config.temporal.ui}`);
  console.log(`workflow:    ${workflowUiUrl(config, workflowId)}`);
  try {
    const result = await worker.runUntil(
      runClusterJob(client, config, workflowId, {
        step: 'hello',
        placement: placementFromConfig(config),
        command: ['bash', '-c', 'echo "job $SLURM_JOB_ID on $(hostname): GPUs ${CUDA_VISIBLE_DEVICES:-none} (fake gres on the dev cluster)"'],
      }, 'demo'),
    );
    for (const e of result.record.events) {
      console.log(`  ${e.at.slice(11, 19)} rung ${e.rung + 1} ${e.kind.padEnd(11)} ${e.jobId ?? ''} ${e.state ?? ''} ${e.reason ?? ''} ${e.node ?? ''} ${e.note ?? ''}`.trimEnd());
    }
    console.log(`Slurm job ${result.job.jobId}: ${result.final.state} on ${result.final.nodes ?? '?'}, exit ${result.result.marker?.exitCode}`);
    console.log(`output: ${result.result.outputTail.trim()}`);
    return true;
  } catch (err) {
    console.error(`demo failed: ${(err as Error).message}`);
    return false;
  } finally {
    await close();
    await connection.close();
  }
}
