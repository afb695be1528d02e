/**
 * The search attributes every cryoet workflow sets, so an operator can filter and sort
 * campaigns in the Temporal UI (`CryoStage = "refine"`, `CryoGpuType = "t4"`, ...).
 * Sandbox-safe: workflows import this file. The dev server registers exactly this list.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The campaign a workflow belongs to (its business key). */
export const CryoCampaign = defineSearchAttributeKey('CryoCampaign', SearchAttributeType.KEYWORD);
/** Pipeline stage: stage-binary, align, extract, refine, postprocess, done. */
export const CryoStage = defineSearchAttributeKey('CryoStage', SearchAttributeType.KEYWORD);
/** Tilt series name (e.g. TS_01) for per-tilt-series work. */
export const CryoTiltSeries = defineSearchAttributeKey('CryoTiltSeries', SearchAttributeType.KEYWORD);
/** Cluster the current job runs on. */
export const CryoCluster = defineSearchAttributeKey('CryoCluster', SearchAttributeType.KEYWORD);
/** Slurm job id of the current submission. */
export const CryoSlurmJobId = defineSearchAttributeKey('CryoSlurmJobId', SearchAttributeType.KEYWORD);
/** GPU type of the current placement (t4, a10g, any). */
export const CryoGpuType = defineSearchAttributeKey('CryoGpuType', SearchAttributeType.KEYWORD);
/** Index of the placement ladder rung in use (0 = first choice). */
export const CryoRung = defineSearchAttributeKey('CryoRung', SearchAttributeType.INT);
/** Newest complete refine iteration. */
export const CryoIteration = defineSearchAttributeKey('CryoIteration', SearchAttributeType.INT);
/** Current gold-standard resolution in Å. */
export const CryoResolution = defineSearchAttributeKey('CryoResolution', SearchAttributeType.DOUBLE);
/** GPU cost so far in US dollars. */
export const CryoCostUsd = defineSearchAttributeKey('CryoCostUsd', SearchAttributeType.DOUBLE);

/**
 * Where a workflow stands, in one word an operator can filter on. clusterJob:
 * waiting-capacity, pending, running, rescheduling (node lost), relaxing, done, failed,
 * cancelled. campaign: running, waiting-approval, done, failed.
 */
export const CryoStatus = defineSearchAttributeKey('CryoStatus', SearchAttributeType.KEYWORD);

/** All keys, for server registration (dev server flags, tests). */
export const cryoSearchAttributes = [
  CryoCampaign,
  CryoStage,
  CryoTiltSeries,
  CryoCluster,
  CryoSlurmJobId,
  CryoGpuType,
  CryoRung,
  CryoIteration,
  CryoResolution,
  CryoCostUsd,
  CryoStatus,
] as const;

/** The Temporal CLI's name of each search attribute type (`--search-attribute Name=Type`, `--type`). */
export const CLI_TYPE_NAME: Readonly<Record<string, string>> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  TEXT: 'Text',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `--search-attribute Name=Type` flags for every project search attribute (a dev server's start). */
export function searchAttributeFlags(): string[] {
  return cryoSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${CLI_TYPE_NAME[k.type]}`]);
}
