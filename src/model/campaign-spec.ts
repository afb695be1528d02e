/**
 * The campaign file (YAML): which tilt series, which picks, reference and masks, and the
 * parameters of every step. Validated with zod; the types below are what workflows get.
 *
 * File fields are paths on the cluster, relative to `dataDir` unless absolute; `dataDir`
 * itself is relative to temporal.yaml's `paths.data` unless absolute.
 */
import { z } from 'zod';
import { durationSchema } from '../duration.js';

/** Tilt-series and campaign names reach job names and paths: a small alphabet. */
export const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const NAME_HINT = "expected a letter or digit, then letters, digits, '_' or '-' (at most 63 characters)";

/** A file on the cluster, relative to dataDir or absolute. Never `..`, never a line break. */
const dataFile = z
  .string()
  .min(1, 'expected a file path')
  .refine((p) => !/[\0\n\r]/.test(p), 'a path may not contain NUL or line breaks')
  .refine(
    (p) => !p.split('/').includes('..'),
    "'..' is not allowed: name the file under dataDir or give an absolute path",
  );

const positive = (what: string) =>
  z
    .number({ error: `expected a number (${what})` })
    .positive(`expected ${what} > 0`)
    .finite();
const count = (what: string) =>
  z
    .number({ error: `expected a whole number (${what})` })
    .int(`expected a whole number (${what})`)
    .positive(`expected ${what} ≥ 1`);

/** RELION point-group symbols: C1, C6, D2, T, O, I, I1…I4 and friends. */
export const SYMMETRY = /^(C[1-9][0-9]*|D[1-9][0-9]*|T|O|I[1-5]?|Ci|Cs|C[1-9][0-9]*[hv])$/;

export const tiltSeriesSchema = z
  .object({
    name: z.string().regex(CAMPAIGN_NAME, NAME_HINT),
    /** MRC stack of tilt images. */
    stack: dataFile,
    /** `.rawtlt`: one tilt angle in degrees per line, in stack order. */
    angles: dataFile,
    /** Å per pixel of the tilt images. */
    pixelSize: positive('pixel size in Å'),
    /** Electron dose per tilt image, e/Å². */
    dosePerTilt: positive('dose per tilt in e/Å²'),
    /** Particle picks: RELION coordinate STAR (_rlnCoordinateX/Y/Z, tomogram voxels). */
    picks: dataFile,
  })
  .strict();

/** AreTomo2 alignment + reconstruction. */
export const reconstructionSchema = z
  .object({
    /** Volume thickness in unbinned pixels (`-VolZ`). */
    volZ: count('volume thickness in pixels'),
    /** Binning of the output volume (`-OutBin`). */
    outBin: count('output binning'),
    /**
     * The microscope's tilt-axis angle, degrees (`-TiltAxis`; the .mdoc's TiltAxisAngle, ~85
     * for EMPIAR-10164). AreTomo2 refines it within ±10° unless `refineTiltAxis` is false.
     * Unset: AreTomo2 searches the whole half-turn (the CPU stand-in takes the series as aligned).
     */
    tiltAxis: z
      .number()
      .min(-180)
      .max(180)
      .refine((a) => a !== 0, 'expected a non-zero angle (AreTomo2 reads 0 as "search")')
      .optional(),
    refineTiltAxis: z.boolean().default(true),
    /** Local patches `-Patch X Y`; 0 0 is global alignment only. */
    patch: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).default([0, 0]),
    /** Weighted back-projection (`-Wbp 1`) rather than SART. */
    wbp: z.boolean().default(true),
    flipVol: z.boolean().default(true),
    outImod: z.boolean().default(true),
  })
  .strict();

/** Subtomogram extraction (`relion_tomo_subtomo` in production). */
export const extractionSchema = z
  .object({
    box: count('box size in pixels'),
    crop: count('crop size in pixels'),
    bin: positive('binning'),
    maxDose: positive('max dose in e/Å²').optional(),
    float16: z.boolean().default(true),
    stack2d: z.boolean().default(true),
  })
  .strict()
  .refine((e) => e.crop <= e.box, { path: ['crop'], message: 'expected crop ≤ box' });

/**
 * RELION's `--auto_local_healpix_order` when not given (src/ml_optimiser.cpp). A refine whose
 * healpixOrder is at or above it searches locally from iteration 1, around each particle's
 * prior orientation.
 */
export const RELION_AUTO_LOCAL_HEALPIX_ORDER = 4;

/** Gold-standard auto-refine. The optional fields tune small CPU runs (embedded profile). */
export const refineSchema = z
  .object({
    symmetry: z.string().regex(SYMMETRY, 'expected a RELION symmetry such as C1, C6, D2, T, O or I'),
    particleDiameter: positive('particle diameter in Å'),
    iniHigh: positive('initial low-pass in Å'),
    healpixOrder: z.number().int().min(0).max(8),
    pad: z.number().int().min(1).max(3).default(2),
    ctf: z.boolean().default(true),
    solventCorrectFsc: z.boolean().default(true),
    autoLocalHealpixOrder: z.number().int().min(0).max(8).optional(),
    offsetRange: positive('offset range in pixels').optional(),
    offsetStep: positive('offset step in pixels').optional(),
    lowResolJoinHalves: positive('resolution in Å').optional(),
    flattenSolvent: z.boolean().default(false),
    /** `--norm` / `--scale`: per-particle normalisation and intensity-scale corrections. */
    normCorrection: z.boolean().default(false),
    scaleCorrection: z.boolean().default(false),
    zeroMask: z.boolean().default(false),
    randomSeed: z.number().int().nonnegative().optional(),
    /**
     * The refine's starting reference: `reference` (the campaign's reference file) or
     * `featureless`: the particles averaged at random orientations by RELION 5 in the refine
     * job, low-passed to iniHigh (tools/toolset.ts featurelessCommands). Nothing of the answer
     * goes in, so the hand the map comes out with is the data's. RELION 5 profiles with
     * `alignment: aretomo2` (the import gives the particles their random orientations).
     */
    startFrom: z.enum(['reference', 'featureless']).default('reference'),
    /** Time limit of one refine job on the first rung, minutes. */
    timeLimitMinutes: count('minutes').default(24 * 60),
  })
  .strict();

export const postprocessSchema = z
  .object({
    /** Low resolution limit (Å) of the B-factor fit; RELION's default is 10. */
    autobLowres: positive('resolution in Å').optional(),
    /** Make the FSC mask with relion_mask_create --denovo when `masks.fsc` is not given. */
    denovoMask: z
      .object({ outerRadiusPx: positive('radius in pixels'), softEdgePx: positive('edge in pixels') })
      .strict()
      .optional(),
  })
  .strict();

export const campaignSchema = z
  .object({
    name: z.string().regex(CAMPAIGN_NAME, NAME_HINT),
    /** Free text, e.g. `EMPIAR-10164`. */
    dataset: z.string().min(1).max(200),
    dataDir: dataFile,
    tiltSeries: z.array(tiltSeriesSchema).min(1, 'expected at least one tilt series'),
    /** The refine's starting map (unless refine.startFrom is featureless). */
    reference: dataFile.optional(),
    masks: z.object({ solvent: dataFile.optional(), fsc: dataFile.optional() }).strict().default({}),
    reconstruction: reconstructionSchema,
    extraction: extractionSchema,
    refine: refineSchema,
    postprocess: postprocessSchema.default({}),
    /**
     * Where RELION 5's tilt-series geometry comes from (RELION 5 profiles): `aretomo2`, the
     * campaign's own AreTomo2 alignment imported into `relion5.tomograms` (the tables before
     * alignment: import + CTF), with particles from each series' picks; or `published`, the
     * given `relion5.tomograms` and `relion5.particles` as they are (a published workspace).
     */
    alignment: z.enum(['aretomo2', 'published']).default('aretomo2'),
    /**
     * RELION 5 extraction inputs: tomograms.star (before alignment, or aligned with
     * `alignment: published`) and, for `published`, particles.star. Embedded builds its own.
     */
    relion5: z.object({ particles: dataFile.optional(), tomograms: dataFile }).strict().optional(),
    limits: z
      .object({
        /** Tilt series aligned at once. */
        maxParallelTiltSeries: count('tilt series').default(5),
        /** Fewest tilt series that must get through reconstruction for the campaign to go on. */
        minTiltSeries: count('tilt series').optional(),
      })
      .strict()
      .default({ maxParallelTiltSeries: 5 }),
    /**
     * SYNTHETIC data only: the particle the data was made from, at the refine's sampling, and
     * its model (for the mirror image). The campaign compares its final map with it (cc, hand
     * margin over the mirror, FSC 0.5) and puts the figures in the run record and report.
     */
    truth: z
      .object({ map: dataFile, model: z.enum(['atoms', 'blobs']) })
      .strict()
      .optional(),
    /**
     * Human-in-the-loop gate before extraction: the campaign waits for the `approvePicks`
     * update (`cryoet approve`). After `timeout` it goes on (`onTimeout: continue`) or
     * fails (`fail`). Off by default.
     */
    approvePicks: z
      .object({
        required: z.boolean().default(false),
        timeout: durationSchema.prefault('24h'),
        onTimeout: z.enum(['continue', 'fail']).default('fail'),
      })
      .strict()
      .prefault({}),
  })
  .strict();
// Checks across fields (duplicate names, minTiltSeries ≤ count, one pixel size) are in
// load.ts on the raw YAML, so they are reported with every other problem at once.

export type CampaignSpec = z.output<typeof campaignSchema>;
export type TiltSeriesSpec = CampaignSpec['tiltSeries'][number];
export type ReconstructionParams = CampaignSpec['reconstruction'];
export type ExtractionParams = CampaignSpec['extraction'];
export type RefineParams = CampaignSpec['refine'];
export type PostprocessParams = CampaignSpec['postprocess'];
