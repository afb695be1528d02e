/**
 * The campaign report: a run record as one self-contained HTML page (inline CSS and SVG,
 * no scripts or external resources; opens offline). Pure and dependency-free.
 */
import type { RunRecord } from '../workflows/campaign-status.js';
import { page } from './html.js';

export interface ReportOptions {
  /** When the report was made (ISO); shown in the footer. Omitted: no footer, same output every time. */
  readonly generatedAt?: string;
}

/** The HTML page for `record`. Never throws on missing or empty parts of the record. */
export function renderReport(record: RunRecord, options: ReportOptions = {}): string {
  return page(record, options.generatedAt);
}

export { costByStage, type StageCost } from './cost-plot.js';
export { fscPoints, FSC_THRESHOLD } from './fsc-plot.js';
export { stepIntervals, type Interval, type Marker } from '../campaign/step-intervals.js';
