/**
 * The campaign report: a run record as one self-contained HTML page (inline CSS, SVG and
 * PNG data, no scripts or external resources; opens offline). Pure: the pictures come in
 * already encoded.
 */
import type { RunRecord } from '../model/campaign-status.js';
import { page } from './html.js';
import type { ReportPictures } from '../pictures/read.js';

export interface ReportOptions {
  /** When the report was made (ISO); shown in the footer. Omitted: no footer, same output every time. */
  readonly generatedAt?: string;
  /** The tomograms' and final map's pictures (src/pictures/), drawn inline; omitted: no section. */
  readonly pictures?: ReportPictures;
}

/** The HTML page for `record`. Never throws on missing or empty parts of the record. */
export function renderReport(record: RunRecord, options: ReportOptions = {}): string {
  return page(record, options.generatedAt, options.pictures);
}

export { costByStage, type StageCost } from './cost-plot.js';
export { fscPoints, FSC_THRESHOLD } from './fsc-plot.js';
export { stepIntervals, type Interval, type Marker } from '../campaign/step-intervals.js';
