/**
 * cryoet report: a finished campaign's run record as the HTML report (and --json).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RunRecord } from '../model/campaign-status.js';
import { CliError, ExitCode } from './errors.js';
import { closedOutcome } from './outcome.js';
import { describeCampaign, isRunning, withSession, type CommonOptions, type JsonOption } from './session.js';
import { fileNameFor } from './tables.js';
import { cancellationOf, visibleStage } from './describe.js';

export interface ReportOptions extends CommonOptions, JsonOption {
  readonly out?: string;
  /** false with --no-pictures. */
  readonly pictures: boolean;
}

export async function report(id: string, opts: ReportOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeCampaign(session, id);
      const cancellation = cancellationOf(d);
      const cancelledRecord = d.status.name === 'CANCELLED' && cancellation !== undefined && opts.json === true;
      let text: string;
      if (cancelledRecord) {
        // No run record, but what the cancel stopped: what was running, the jobs cancelled.
        const { failure } = await closedOutcome(handle);
        const closeTime = d.closeTime?.toISOString();
        const cancelled = { campaign: id, workflowStatus: d.status.name, closeTime, failure, cancellation };
        text = `${JSON.stringify(cancelled, null, 2)}\n`;
      } else if (d.status.name !== 'COMPLETED') {
        if (isRunning(d))
          throw new CliError(
            ExitCode.Failed,
            `campaign ${id} is still running${visibleStage(d)}: no run record until it completes`,
          );
        const { failure } = await closedOutcome(handle);
        const hint = cancellation ? '; `cryoet report --json` lists what its cancel stopped' : '';
        throw new CliError(
          ExitCode.Failed,
          `campaign ${id} ended ${d.status.name}, not completed: no run record${failure ? ` (${failure})` : ''}${hint}`,
        );
      } else {
        const record = (await handle.result()) as RunRecord;
        if (opts.json) text = `${JSON.stringify(record, null, 2)}\n`;
        else {
          // The HTML renderer and the picture reader load only here: no other command needs them.
          const pictures = opts.pictures
            ? await (await import('./report-pictures.js')).clusterPictures(session.config, record)
            : undefined;
          for (const note of pictures?.notes ?? []) console.error(`report: not drawn: ${note}`);
          const render = (await import('../report/index.js')).renderReport;
          text = render(record, { generatedAt: new Date().toISOString(), ...(pictures ? { pictures } : {}) });
        }
      }
      const out =
        opts.out ??
        fileNameFor(id, cancelledRecord ? '-cancellation.json' : opts.json ? '-run-record.json' : '-report.html');
      if (out === '-') {
        process.stdout.write(text);
        return;
      }
      const path = resolve(out);
      try {
        await writeFile(path, text);
      } catch (err) {
        throw new CliError(ExitCode.Failed, `cannot write ${path}: ${(err as Error).message}`);
      }
      console.log(
        `${cancelledRecord ? 'cancellation record' : opts.json ? 'run record' : 'report'} of ${id} written to ${path}`,
      );
    },
    { workflowId: id },
  );
}
