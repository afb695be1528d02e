/**
 * Records a workflow's history for the replay suite (test/histories/).
 *
 *   tsx scripts/record-history.ts <workflowId> <name> [address]
 *
 * Writes test/histories/<name>.pb, the binary History protobuf, and <name>.workflow-id
 * (replay needs the original id: clusterJob derives its job key from it). (The CLI's JSON form
 * needs the SDK's protojson conversion, which fails in 1.24 where @temporalio/common
 * carries its own protobufjs 8 beside @temporalio/proto's protobufjs 7.)
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;

const [workflowId, name, address = '127.0.0.1:7233'] = process.argv.slice(2);
if (!workflowId || !name || !/^[A-Za-z0-9._-]+$/.test(name)) {
  console.error('usage: tsx scripts/record-history.ts <workflowId> <name: letters, digits, . _ -> [address]');
  process.exit(2);
}
const connection = await Connection.connect({ address });
try {
  const history = await new Client({ connection }).workflow.getHandle(workflowId).fetchHistory();
  const file = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'test', 'histories', `${name}.pb`);
  writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
  writeFileSync(file.replace(/\.pb$/, '.workflow-id'), `${workflowId}\n`);
  console.log(`${file}: ${history.events?.length ?? 0} events`);
} finally {
  await connection.close();
}
