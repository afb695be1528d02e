/**
 * The pictures `cryoet report` draws, read over SFTP from the cluster that holds the
 * campaign's files (the run record's paths). A cluster that cannot be reached gives a report
 * without them and a note, not a failed report.
 */
import type { CryoConfig } from '../config/schema.js';
import type { RunRecord } from '../model/campaign-status.js';
import { readReportPictures, type ReportPictures } from '../pictures/read.js';
import { SshConnection } from '../ssh/connection.js';
import { sshTarget } from '../worker-resources.js';

/** The cluster of the campaign's files: its steps', else temporal.yaml's first. */
export function filesCluster(config: CryoConfig, record: Pick<RunRecord, 'steps'>): string | undefined {
  const named = (Array.isArray(record.steps) ? record.steps : [])
    .map((s) => s.cluster)
    .find((c) => c in config.clusters);
  return named ?? Object.keys(config.clusters)[0];
}

export async function clusterPictures(config: CryoConfig, record: RunRecord): Promise<ReportPictures> {
  const cluster = filesCluster(config, record);
  if (cluster === undefined) return { tiltSeries: [], notes: ['no cluster in temporal.yaml to read the files from'] };
  const connection = new SshConnection(sshTarget(cluster, config.clusters[cluster]!));
  try {
    return await readReportPictures(record, (path) => connection.openReader(path));
  } catch (err) {
    return { tiltSeries: [], notes: [`cluster "${cluster}": ${(err as Error).message}`] };
  } finally {
    connection.close();
  }
}
