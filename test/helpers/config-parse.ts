/**
 * What the temporal.yaml tests share: the fixture folder, and parseConfig expected to give a
 * config or issues.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatConfigIssues, parseConfig, type ConfigIssue, type CryoConfig } from '../../src/config.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
export const fixture = (name: string): string => join(FIXTURES, name);
export const BASE = '/cfg';
export const allFilesExist = (_path: string): boolean => true;

export function parseOk(text: string, fileExists = allFilesExist): CryoConfig {
  const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: BASE, fileExists });
  if (!result.ok) assert.fail(`expected a valid config, got:\n${formatConfigIssues('temporal.yaml', result.issues)}`);
  return result.config;
}

export function parseIssues(text: string, fileExists = allFilesExist): ConfigIssue[] {
  const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: BASE, fileExists });
  assert.equal(result.ok, false, 'expected issues');
  return result.ok ? [] : result.issues;
}

/** A small valid config as data (minimal.yaml parsed). */
// Rows edit the parsed YAML freely; the schema is what checks types here.
export type Tree = Record<string, any>;
export function baseTree(): Tree {
  return parse(readFileSync(fixture('minimal.yaml'), 'utf8')) as Tree;
}
