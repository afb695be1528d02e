/**
 * Bundles the workflow code to a file: `tsx scripts/bundle-workflows.ts <out.js>`.
 * Run as a child process by the worker (src/workflow-bundle.ts) so webpack's memory
 * never lands in the long-lived worker process.
 */
import { writeFileSync, renameSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../src/plugin.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: tsx scripts/bundle-workflows.ts <out.js>');
  process.exit(2);
}
const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
writeFileSync(`${out}.tmp`, code);
renameSync(`${out}.tmp`, out);
