/**
 * `cryoet demo` (until the campaign exists): starts a worker in this process, runs one
 * clusterJob on the embedded cluster — an sbatch over SSH asking for two (fake) T4
 * GPUs — and prints its result and the Temporal UI address.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { CryoConfig } from '../config.js';
import { createWorker } from '../worker.js';
import { connectClient, runClusterJob, workflowUiUrl } from '../client.js';

/** Runs the demo; true when the job succeeded. */
export async function runDemo(config: CryoConfig, now: Date = new Date()): Promise<boolean> {
  const cluster = Object.keys(config.clusters)[0]!;
  const rung = config.placement.ladder.find((r) => (r.cluster ?? cluster) === cluster && !/:a10g:/.test(r.gres)) ?? config.placement.ladder[0]!;
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
        cluster,
        step: 'hello',
        partition: rung.partition,
        gres: rung.gres,
        command: ['bash', '-c', 'echo "job $SLURM_JOB_ID on $(hostname): GPUs ${CUDA_VISIBLE_DEVICES:-none} (fake gres on the dev cluster)"'],
      }, 'demo'),
    );
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
