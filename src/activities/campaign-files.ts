/**
 * Campaign file activities on the cluster, over SFTP and short commands: check a tilt
 * series' inputs before anything is submitted for it, write step inputs, read a refine's
 * progress, count extracted particles, read postprocess results, checksum outputs and
 * write the run record. Parsing is in tools/ (pure); this file only moves bytes.
 */
import { CryoError, ErrorType } from '../errors.js';
import { shellJoin } from '../shell/quote.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { tail } from '../ssh/connection.js';
import { MRC_HEADER_BYTES, parseMrcHeader, type MrcHeader } from '../tools/mrc.js';
import { checkTiltSeries, parseRawtlt } from '../tools/rawtlt.js';
import { parseRelionVersion } from '../tools/relion.js';
import type { FileChecksum, ImportedAlignment, PostprocessResult, RelionVersion } from '../model/results.js';
import {
  half1ModelPath,
  refineProgress,
  type RefineProgress,
  type RelionGeneration,
} from '../tools/refine-iterations.js';
import { parseStar, starBlock, starNumber, starNumberColumn } from '../tools/star.js';
import {
  importAlignment,
  importedTomograms,
  parseAln,
  particlesStar,
  picksToParticles,
  tiltSeriesTablePath,
  withAbsoluteImages,
  type ImportAlignmentsInput,
} from '../tools/aretomo-alignment.js';
import type { StepFile } from '../tools/toolset.js';
import { toApplicationFailure } from './failures.js';
import { whileHeartbeating } from './heartbeat.js';
import type { ActivityDeps } from './deps.js';

export interface InspectTiltSeriesInput {
  readonly cluster: string;
  readonly name: string;
  readonly stack: string;
  readonly angles: string;
  readonly pixelSize: number;
}

export interface TiltSeriesFacts {
  readonly name: string;
  readonly nx: number;
  readonly ny: number;
  readonly tilts: number;
  readonly minAngle: number;
  readonly maxAngle: number;
  /** Voxel size in the stack's header (0 when unset); the campaign file's pixelSize is used. */
  readonly headerPixelSize: number;
}

export interface RefineStatus extends RefineProgress {
  /** `_rlnCurrentResolution` (Å) of the newest complete iteration. */
  readonly resolution?: number;
}

/** `<dir>` + `Refine3D/run` → the folder RELION writes into and the files' name root (`run`). */
function refineFolder(dir: string, outRoot: string): { folder: string; root: string } {
  const slash = outRoot.lastIndexOf('/');
  return { folder: slash < 0 ? dir : `${dir}/${outRoot.slice(0, slash)}`, root: outRoot.slice(slash + 1) };
}

function inputInvalid(message: string, details: Record<string, unknown>): CryoError {
  return new CryoError(ErrorType.InputInvalid, message, details);
}

export function createCampaignFileActivities(deps: ActivityDeps) {
  const sftp = (cluster: string) => deps.pool.get(cluster);

  async function run(
    cluster: string,
    argv: string[],
  ): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
    const settings = deps.cluster(cluster);
    return deps.pool
      .get(cluster)
      .exec(exportPrefix(settings.environment) + shellJoin(argv), { timeoutMs: settings.commandTimeoutMs });
  }

  /** Reads a small input file; a missing one is bad input naming the file and its role. */
  async function readInput(cluster: string, path: string, what: string): Promise<string> {
    try {
      return (await sftp(cluster).readFile(path)).toString('utf8');
    } catch (err) {
      if (err instanceof CryoError && err.type === ErrorType.OutputMissing)
        throw inputInvalid(`${what} ${path}: file not found on cluster "${cluster}"`, { path });
      throw err;
    }
  }

  async function writeAll(cluster: string, files: readonly StepFile[]): Promise<void> {
    for (const file of files) {
      const dir = file.path.slice(0, file.path.lastIndexOf('/')) || '/';
      const made = await run(cluster, ['mkdir', '-p', '--', dir]);
      if (made.exitCode !== 0)
        throw new CryoError(
          ErrorType.OutputMissing,
          `cluster "${cluster}": cannot create ${dir}: ${tail(made.stderr)}`,
        );
      const tmp = `${file.path}.tmp`;
      await sftp(cluster).writeFile(tmp, file.text);
      const moved = await run(cluster, ['mv', '-f', '--', tmp, file.path]);
      if (moved.exitCode !== 0)
        throw new CryoError(
          ErrorType.OutputMissing,
          `cluster "${cluster}": cannot write ${file.path}: ${tail(moved.stderr)}`,
        );
    }
  }

  async function mrcHeader(cluster: string, path: string, what: string): Promise<MrcHeader> {
    let head: { head: Buffer; size: number };
    try {
      head = await sftp(cluster).readHead(path, MRC_HEADER_BYTES);
    } catch (err) {
      if (err instanceof CryoError && err.type === ErrorType.OutputMissing)
        throw inputInvalid(`${what} ${path}: file not found on cluster "${cluster}"`, { path });
      throw err;
    }
    return parseMrcHeader(head.head, head.size, path);
  }

  return {
    /**
     * Checks one tilt series before any job is submitted for it: the stack's MRC header is
     * readable and its data complete, the angle file parses, the counts match, the pixel
     * size is positive. Any problem is a non-retryable InputInvalid naming the file.
     */
    async inspectTiltSeries(input: InspectTiltSeriesInput): Promise<TiltSeriesFacts> {
      return toApplicationFailure(async () => {
        if (!(input.pixelSize > 0))
          throw inputInvalid(`${input.name}: pixelSize ${input.pixelSize}: expected a pixel size > 0 Å`, {
            name: input.name,
          });
        const header = await mrcHeader(input.cluster, input.stack, `${input.name}: tilt stack`);
        const angles = parseRawtlt(
          await readInput(input.cluster, input.angles, `${input.name}: tilt angles`),
          input.angles,
        );
        checkTiltSeries({ stackSource: input.stack, header, anglesSource: input.angles, angles });
        return {
          name: input.name,
          nx: header.nx,
          ny: header.ny,
          tilts: header.nz,
          minAngle: Math.min(...angles),
          maxAngle: Math.max(...angles),
          headerPixelSize: header.voxelSize,
        };
      });
    },

    /** Checks that campaign-wide maps (reference, masks) exist and have sound MRC headers. */
    async inspectMaps(input: { cluster: string; maps: readonly { what: string; path: string }[] }): Promise<void> {
      return toApplicationFailure(async () => {
        for (const map of input.maps) await mrcHeader(input.cluster, map.path, map.what);
      });
    },

    /**
     * Checks, before anything is staged or submitted, that each output folder can be
     * created and written: `mkdir -p`, then a 4 KiB probe file written and removed. A folder
     * that cannot be (a path part is a regular file, no permission, immutable, read-only,
     * full) is a non-retryable OutputUnwritable naming the folder and the system's message.
     */
    async checkWritable(input: { cluster: string; dirs: readonly string[] }): Promise<void> {
      return toApplicationFailure(async () => {
        const script =
          'mkdir -p -- "$1" || exit 3; p="$1/.cryoet-write-probe.$$"; ' +
          'if ! head -c 4096 /dev/zero > "$p"; then rm -f -- "$p"; exit 4; fi; ' +
          'rm -f -- "$p"';
        for (const dir of input.dirs) {
          const result = await run(input.cluster, ['sh', '-c', script, 'sh', dir]);
          if (result.exitCode === 3 || result.exitCode === 4) {
            const what = result.exitCode === 3 ? 'cannot be created' : 'cannot be written';
            throw new CryoError(
              ErrorType.OutputUnwritable,
              `cluster "${input.cluster}": output folder ${dir} ${what}: ${tail(result.stderr)}`,
              { dir },
            );
          }
          if (result.exitCode !== 0) {
            const exited = result.exitCode ?? 'by a signal';
            throw new CryoError(
              ErrorType.SshUnavailable,
              `cluster "${input.cluster}": checking ${dir} exited ${exited}: ${tail(result.stderr)}`,
            );
          }
        }
      });
    },

    /** Writes step input files (e.g. a STAR list) atomically: temporary name, then rename. */
    async writeFiles(input: { cluster: string; files: readonly StepFile[] }): Promise<void> {
      return toApplicationFailure(() => writeAll(input.cluster, input.files));
    },

    /**
     * Imports each tilt series' AreTomo2 alignment into RELION 5 (tools/aretomo-alignment.ts):
     * reads the tables before alignment, the .aln files and the picks, and writes the
     * campaign's per-tilt STAR files, tomograms.star and particles.star. All are read and
     * checked before any is written; a bad file is InputInvalid naming it.
     */
    async importAlignments(input: ImportAlignmentsInput): Promise<ImportedAlignment[]> {
      return toApplicationFailure(async () => {
        const c = input.cluster;
        const table = starBlock(
          parseStar(await readInput(c, input.tomograms, 'relion5.tomograms'), input.tomograms),
          'global',
          input.tomograms,
        );
        const files: StepFile[] = [];
        const summary: ImportedAlignment[] = [];
        const rows: string[][] = [];
        for (const ts of input.series) {
          const tablePath = tiltSeriesTablePath(table, input.tomograms, input.project, ts.name);
          const perTilt = withAbsoluteImages(
            starBlock(
              parseStar(await readInput(c, tablePath, `${ts.name}: tilt-series table`), tablePath),
              ts.name,
              tablePath,
            ),
            input.project,
          );
          const aln = parseAln(await readInput(c, ts.aln, `${ts.name}: AreTomo2 alignment`), ts.aln);
          files.push({
            path: ts.star,
            text: importAlignment({
              name: ts.name,
              table: perTilt,
              tableSource: tablePath,
              aln,
              alnSource: ts.aln,
              pixelSize: ts.pixelSize,
            }),
          });
          const picks = parseStar(await readInput(c, ts.picks, `${ts.name}: picks`), ts.picks).blocks.find(
            (b) => b.loop,
          ) ?? { name: '', values: {} };
          rows.push(
            ...picksToParticles({ name: ts.name, picks, source: ts.picks, size: ts.binned, voxelSize: ts.voxelSize }),
          );
          const shift = Math.max(...aln.rows.map((r) => Math.hypot(r.tx, r.ty)));
          summary.push({
            name: ts.name,
            tiltAxis: aln.rows[0]!.rot,
            maxShiftAngst: Math.round(shift * ts.pixelSize * 100) / 100,
            tilts: aln.rows.length,
          });
        }
        files.push({
          path: input.out.tomograms,
          text: importedTomograms({ table, source: input.tomograms, project: input.project, series: input.series }),
        });
        files.push({ path: input.out.particles, text: particlesStar(rows, input.randomAngles) });
        await writeAll(c, files);
        return summary;
      });
    },

    /** Where a refine stands (iteration files in `<dir>/<outRoot>`'s folder) and its current resolution. */
    async readRefineProgress(input: {
      cluster: string;
      dir: string;
      outRoot: string;
      relion?: RelionGeneration;
    }): Promise<RefineStatus> {
      return toApplicationFailure(async () => {
        const { folder, root } = refineFolder(input.dir, input.outRoot);
        let names: string[];
        try {
          names = await sftp(input.cluster).listDir(folder);
        } catch (err) {
          if (err instanceof CryoError && err.type === ErrorType.OutputMissing)
            return { started: [], partial: [], finished: false };
          throw err;
        }
        const progress = refineProgress(names, root, input.relion);
        if (progress.newestComplete === undefined) return progress;
        const modelPath = `${input.dir}/${half1ModelPath(input.outRoot, progress.newestComplete)}`;
        try {
          const model = parseStar(await readInput(input.cluster, modelPath, 'refine model'), modelPath);
          return {
            ...progress,
            resolution: starNumber(starBlock(model, 'model_general', modelPath), 'rlnCurrentResolution', modelPath),
          };
        } catch {
          // Progress is informative only: a model being rewritten is read again next time.
          return progress;
        }
      });
    },

    /**
     * `_rlnCurrentResolution` of every complete iteration, oldest first (iteration 0, the
     * reference, has none and is left out). For the run record and the report's plot.
     */
    async readRefineHistory(input: {
      cluster: string;
      dir: string;
      outRoot: string;
      relion?: RelionGeneration;
    }): Promise<{ iteration: number; resolution: number }[]> {
      return toApplicationFailure(async () => {
        const { folder, root } = refineFolder(input.dir, input.outRoot);
        const progress = refineProgress(await sftp(input.cluster).listDir(folder), root, input.relion);
        const partial = new Set(progress.partial);
        const points: { iteration: number; resolution: number }[] = [];
        for (const iteration of progress.started) {
          if (iteration === 0 || partial.has(iteration)) continue;
          const modelPath = `${input.dir}/${half1ModelPath(input.outRoot, iteration)}`;
          try {
            const model = parseStar(await readInput(input.cluster, modelPath, 'refine model'), modelPath);
            points.push({
              iteration,
              resolution: starNumber(starBlock(model, 'model_general', modelPath), 'rlnCurrentResolution', modelPath),
            });
          } catch (err) {
            // An iteration a reclaim cut short before its model was written has no point.
            if (!(err instanceof CryoError && err.type === ErrorType.InputInvalid)) throw err;
          }
        }
        return points;
      });
    },

    /** Rows in a particles STAR (RELION 3.1 `data_particles`); zero is a failed extraction. */
    async countParticles(input: { cluster: string; path: string }): Promise<number> {
      return toApplicationFailure(async () => {
        const text = await readInput(input.cluster, input.path, 'extracted particles');
        const star = parseStar(text, input.path);
        const block = star.blocks.find((b) => b.name === 'particles') ?? star.blocks.find((b) => b.loop);
        const rows = block?.loop?.rows.length ?? 0;
        if (rows === 0) {
          throw new CryoError(
            ErrorType.ToolFailed,
            `${input.path}: extraction wrote no particles; check the picks' coordinates against the tomogram size`,
            { path: input.path },
          );
        }
        return rows;
      });
    },

    /** `_rlnFinalResolution`, `_rlnBfactorUsedForSharpening` and the corrected FSC curve. */
    async readPostprocess(input: { cluster: string; path: string }): Promise<PostprocessResult> {
      return toApplicationFailure(async () => {
        const star = parseStar(await readInput(input.cluster, input.path, 'postprocess result'), input.path);
        const general = starBlock(star, 'general', input.path);
        const fscBlock = starBlock(star, 'fsc', input.path);
        const resolution = starNumberColumn(fscBlock, 'rlnAngstromResolution', input.path);
        const fsc = starNumberColumn(fscBlock, 'rlnFourierShellCorrelationCorrected', input.path);
        const noResolution = /^\+?inf$/i.test((general.values['rlnFinalResolution'] ?? '').trim());
        return {
          finalResolution: noResolution ? null : starNumber(general, 'rlnFinalResolution', input.path),
          bfactor: starNumber(general, 'rlnBfactorUsedForSharpening', input.path),
          fsc: resolution.map((r, i) => ({ resolution: r, fsc: fsc[i]! })),
        };
      });
    },

    /**
     * The RELION the campaign ran: `<program> --version` on the cluster (the same binary the
     * jobs run, on the shared filesystem or PATH). A program that does not answer is recorded
     * as `unknown` with its error: the run record is written either way.
     */
    async readRelionVersion(input: { cluster: string; program: string }): Promise<RelionVersion & { error?: string }> {
      return toApplicationFailure(async () => {
        const result = await run(input.cluster, [input.program, '--version']);
        const parsed = parseRelionVersion(result.stdout, input.program);
        if (result.exitCode === 0 && parsed.version !== 'unknown') return parsed;
        return { ...parsed, error: `exit ${result.exitCode}: ${tail(result.stderr || result.stdout)}` };
      });
    },

    /** sha256 and size of output files (absolute paths); a missing one is OutputMissing. */
    async checksumFiles(input: { cluster: string; paths: readonly string[] }): Promise<FileChecksum[]> {
      return toApplicationFailure(() =>
        whileHeartbeating(async () => {
          if (input.paths.length === 0) return [];
          const script =
            'for f in "$@"; do s=$(stat -c %s -- "$f") && h=$(sha256sum -- "$f" | cut -d" " -f1) && ' +
            'printf "%s %s %s\\n" "$h" "$s" "$f" || exit 3; done';
          const result = await run(input.cluster, ['sh', '-c', script, 'sh', ...input.paths]);
          if (result.exitCode !== 0)
            throw new CryoError(
              ErrorType.OutputMissing,
              `cluster "${input.cluster}": checksum failed: ${tail(result.stderr)}`,
            );
          return result.stdout
            .trim()
            .split('\n')
            .map((line) => {
              const [sha256, bytes, ...path] = line.split(' ');
              return { sha256: sha256!, bytes: Number(bytes), path: path.join(' ') };
            });
        }),
      );
    },
  };
}
