/**
 * The temporal.yaml schema: zod building blocks, one exported schema per section, the
 * whole-file {@link configSchema}, the types derived from it, and the gres helpers.
 * Part of `src/config.ts` (the public entry re-exports everything exported here).
 */
import { z } from 'zod';
import { MAX_NAME_LENGTH, SAFE_NAME } from '../slurm/names.js';
import { durationSchema, formatDuration } from '../duration.js';

// ---- building blocks -------------------------------------------------------------------

const SAFE_NAME_HINT = "expected letters, digits, '.', '_' or '-'";
const safeName = z
  .string()
  .max(MAX_NAME_LENGTH, `at most ${MAX_NAME_LENGTH} characters`)
  .regex(SAFE_NAME, SAFE_NAME_HINT);

/** `gpu:N` or `gpu:<type>:N`, as `--gres` takes it. */
export const GRES_PATTERN = /^gpu(:[A-Za-z0-9_-]+)?:[1-9][0-9]*$/;

const port = z
  .number()
  .int('expected a whole number')
  .min(1, 'expected a port 1..65535')
  .max(65535, 'expected a port 1..65535');

/** A file on this machine; relative paths are resolved against the config file's folder. */
const localFile = z
  .string()
  .min(1, 'expected a file path')
  .refine((p) => !/[\0\n\r]/.test(p), 'a path may not contain NUL or line breaks');

/**
 * A path on the cluster. Absolute in real deployments; a relative path is resolved against
 * the config file's folder, which only makes sense for the embedded single-host cluster.
 */
const remotePath = z
  .string()
  .min(1, 'expected a remote path such as /scratch/cryoet')
  .refine((p) => !/[\0\n\r]/.test(p), 'a path may not contain NUL or line breaks')
  .refine((p) => !p.startsWith('~'), 'write the absolute path: "~" is not expanded');

/** `host:port` or `[v6]:port`, port 1..65535. */
function isHostPort(address: string): boolean {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---- schema ----------------------------------------------------------------------------

/** mTLS to the Temporal frontend (self-hosted with mTLS, or Temporal Cloud). */
export const tlsSchema = z
  .object({
    clientCertFile: localFile,
    clientKeyFile: localFile,
    serverCaFile: localFile.optional(),
    /** Overrides the name checked against the server certificate (SNI). */
    serverName: z.string().min(1).optional(),
  })
  .strict();

/** Where the Temporal server is and how workers and clients reach it. */
export const temporalSchema = z
  .object({
    /**
     * Frontend `host:port`. Unset: the env-config profile's, else 127.0.0.1:7233 (resolved
     * in connection.ts, so a profile's address is not hidden behind a default).
     */
    address: z.string().refine(isHostPort, 'expected "host:port" with a port 1..65535, e.g. 127.0.0.1:7233').optional(),
    /** Namespace. Unset: the profile's, else `default`. */
    namespace: z.string().min(1).optional(),
    taskQueue: z.string().min(1).default('cryoet'),
    /** The Temporal UI address printed for operators (links to campaigns). */
    ui: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:8233' })
      .default('http://127.0.0.1:8233'),
    tls: tlsSchema.optional(),
    /** A Temporal env-config profile name (`[profile.<name>]` in the TOML file). */
    profile: z.string().min(1).optional(),
    /** Path of the Temporal env-config TOML file, when not the default location. */
    configFile: localFile.optional(),
  })
  .strict();

/** How to reach a cluster's login node. */
export const sshSchema = z
  .object({
    host: z.string().min(1, 'expected a host name or address'),
    port: port.default(22),
    user: z.string().min(1, 'expected a user name'),
    /** Private key for the login (local file). */
    keyFile: localFile,
    /** known_hosts listing the login node's host key (local file); no key is ever accepted blindly. */
    knownHostsFile: localFile,
    connectTimeout: durationSchema.prefault('10s'),
    commandTimeout: durationSchema.prefault('60s'),
  })
  .strict();

/** One Slurm cluster, reached over SSH. */
export const clusterSchema = z
  .object({
    ssh: sshSchema,
    /** Exported before every remote command, e.g. `SLURM_CONF`. */
    environment: z
      .record(
        z.string().regex(ENV_NAME, 'expected an environment variable name such as SLURM_CONF'),
        z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string value' }).transform(String),
      )
      .default({}),
    /** Partitions jobs may be submitted to; ladder rungs must name one of them. */
    partitions: z.array(safeName).min(1, 'expected at least one partition'),
    /** Remote folder that job scripts, logs and result markers live under. */
    workDir: remotePath,
    /**
     * Ceiling on squeue/sacct calls per minute for all jobs together: of all workers on the
     * task queue when polling.shareAcrossWorkers (the default), else of each worker.
     */
    maxStatusCallsPerMinute: z
      .number()
      .int('expected a whole number')
      .positive('expected a positive number')
      .default(30),
  })
  .strict();

/** One step of the placement ladder: where to try a job next when the previous step hangs. */
export const rungSchema = z
  .object({
    /** A key of `clusters`; defaults to the first cluster in the file. */
    cluster: safeName.optional(),
    partition: safeName,
    /** `gpu:a10g:4` pins a GPU type; `gpu:4` takes any type. */
    gres: z.string().regex(GRES_PATTERN, 'expected "gpu[:type]:N"'),
    /** Multiplies the job's time limit on this rung (fewer or slower GPUs run longer). */
    timeScale: z.number().positive('expected a positive number').default(1),
  })
  .strict();

/** Campaign steps that may have a placement of their own. */
export const STAGES = ['probe', 'reconstruct', 'extract', 'refine', 'postprocess'] as const;
export type StageName = (typeof STAGES)[number];

/** A step's own placement; unset fields come from the top-level placement. */
export const stagePlacementSchema = z
  .object({
    hangAfter: durationSchema.optional(),
    ladder: z.array(rungSchema).min(1, 'expected at least one rung').optional(),
    onExhausted: z.enum(['fail', 'wait'], { error: 'expected "fail" or "wait"' }).optional(),
  })
  .strict();

/** The placement ladder and when to step down it. */
export const placementSchema = z
  .object({
    /** Pending this long for a capacity reason → cancel and try the next rung. */
    hangAfter: durationSchema.prefault('10m'),
    ladder: z.array(rungSchema).min(1, 'expected at least one rung'),
    /** When every rung hung: `fail` with a list of rungs and reasons, or `wait` on the last rung. */
    onExhausted: z.enum(['fail', 'wait'], { error: 'expected "fail" or "wait"' }).default('fail'),
    /** A job that ends TIMEOUT: resubmitted `resubmit` times, its time limit multiplied by `timeScale` each time. */
    onTimeout: z
      .object({
        resubmit: z.number().int('expected a whole number').min(0, 'expected 0 or more').default(1),
        timeScale: z.number().min(1, 'expected a number of at least 1').default(2),
      })
      .strict()
      .prefault({}),
    /**
     * Leave a node that failed a job (NODE_FAIL, BOOT_FAIL, down or drained right after) out of
     * later submissions...
     */
    excludeFailedNodes: z.boolean({ error: 'expected true or false' }).default(true),
    /** ...for this long. */
    excludeFailedNodesFor: durationSchema.prefault('1h'),
    /** Per-step overrides, e.g. `reconstruct: { ladder: [{ partition: gpu, gres: "gpu:1" }] }`. */
    stages: z
      .partialRecord(z.enum(STAGES, { error: `expected one of ${STAGES.join(', ')}` }), stagePlacementSchema)
      .default({}),
  })
  .strict();

/** $ per GPU-hour by GPU type (as in gres); `default` prices GPUs of unknown type. */
export const gpuPricesSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a GPU type as in gres, or "default"'),
  z.number().nonnegative('expected a price ≥ 0 ($ per GPU-hour)').finite(),
);

/** The tool profiles (src/tools/toolset.ts). */
export const TOOL_PROFILES = ['production', 'relion5', 'embedded'] as const;
const profileSchema = z.enum(TOOL_PROFILES, { error: 'expected "production", "relion5" or "embedded"' });

/**
 * The tool set: `production` (AreTomo2 + RELION 5 on GPUs), `relion5` (RELION 5's same lines
 * on CPU: `--j` instead of `--gpu`) or `embedded` (RELION 3.1 on CPU). The CPU profiles run the
 * AreTomo2 stand-in. Same campaign steps, same command path.
 */
export const toolsSchema = z
  .object({
    profile: profileSchema.default('production'),
    /** AreTomo2 binary on this machine; the campaign stages it to the cluster (stageDir). */
    aretomo2: localFile.optional(),
    /** Arguments of the probe run on a node after staging (AreTomo2 prints its usage without any). */
    probeArgs: z.array(z.string()).default([]),
    /** Where staged binaries go on the cluster's shared filesystem; default `<paths.work>/bin`. */
    stageDir: remotePath.optional(),
    /**
     * Folder of the RELION binaries on the cluster; unset: the remote PATH. Either one folder,
     * or one per profile (`{ relion5: /opt/relion-5.0.1/bin }`; a profile not named uses PATH).
     */
    relionBinDir: z.union([remotePath, z.partialRecord(profileSchema, remotePath)]).optional(),
    /** MPI launcher and its options. */
    mpirun: z.array(z.string().min(1)).min(1, 'expected the launcher, e.g. [mpirun]').default(['mpirun']),
    /**
     * A shared library on the cluster preloaded into every MPI rank (`mpirun -x
     * LD_PRELOAD=…`). The embedded profile uses embedded/mpi_nap (built by setup): waiting
     * ranks sleep instead of spinning, so RELION's leader leaves the CPU to the ranks at work.
     */
    mpiPreload: remotePath
      .refine((p) => !/[\s:]/.test(p), 'expected a path without spaces or colons (LD_PRELOAD splits on them)')
      .optional(),
    /** CPU threads per RELION rank (`--j`) on the embedded profile. */
    threads: z.number().int('expected a whole number').positive('expected a positive number').default(1),
  })
  .strict();

/** Campaign data on the cluster: where tilt series live and the campaign work root. */
export const pathsSchema = z.object({ data: remotePath, work: remotePath }).strict();

/**
 * Scheduler polling: short after a submission, backing off to `maxInterval`. With
 * `resultMarkers` (default on), running jobs' result markers are also looked for every
 * `markerInterval` over SSH (a file check on the login node, not a scheduler call), so a
 * job's end is seen within about `markerInterval` however far the status calls backed off.
 */
export const pollingSchema = z
  .object({
    interval: durationSchema.prefault('5s'),
    maxInterval: durationSchema.prefault('60s'),
    resultMarkers: z.boolean().default(true),
    markerInterval: durationSchema.prefault('1s'),
    /**
     * Workers on one task queue share each cluster's status-call budget: each counts the
     * queue's workers (DescribeTaskQueue) every 30 s and spaces its calls that many times as
     * far, so the scheduler's load does not grow with workers (scheduler/share.ts).
     */
    shareAcrossWorkers: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.maxInterval < p.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxInterval'],
        message:
          `expected at least polling.interval (${formatDuration(p.interval)}),` +
          ` got ${formatDuration(p.maxInterval)}`,
      });
    }
  });

/** Activity timeouts: one sbatch call, and a whole cluster job. */
export const timeoutsSchema = z
  .object({
    submit: durationSchema.prefault('2m'),
    job: durationSchema.prefault('48h'),
    /** How long a stopping worker lets in-flight activities finish before cancelling them. */
    workerShutdownGrace: durationSchema.prefault('30s'),
  })
  .strict();

/**
 * Prometheus metrics of a `cryoet worker`: the SDK runtime's (workflow and activity task
 * latencies, slots, ...) and the plugin's own (`cryoet_*`). Loopback only: the exporter
 * has no authentication, so anything else must go through the operator's own proxy.
 */
export const metricsSchema = z
  .object({
    prometheus: z
      .string()
      .regex(
        /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):\d{1,5}$/,
        'expected a loopback host:port such as 127.0.0.1:9464 (the exporter has no authentication)',
      )
      .optional(),
  })
  .strict();

/** The whole of temporal.yaml. Rungs without `cluster` get the first cluster's name. */
export const configSchema = z
  .object({
    temporal: temporalSchema.prefault({}),
    clusters: z
      .record(safeName, clusterSchema)
      .refine((clusters) => Object.keys(clusters).length > 0, 'expected at least one cluster'),
    placement: placementSchema,
    gpuPrices: gpuPricesSchema.default({}),
    tools: toolsSchema.prefault({}),
    paths: pathsSchema,
    polling: pollingSchema.prefault({}),
    timeouts: timeoutsSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
  })
  .strict()
  .transform((config) => {
    // JS objects put integer-like keys first; a cluster named only with digits would
    // therefore count as "first" even when it is not first in the file.
    const firstCluster = Object.keys(config.clusters)[0]!;
    const withCluster = <R extends { cluster?: string | undefined }>(rung: R) => ({
      ...rung,
      cluster: rung.cluster ?? firstCluster,
    });
    const ladder = config.placement.ladder.map(withCluster);
    const stages = Object.fromEntries(
      Object.entries(config.placement.stages).map(([stage, p]) => [
        stage,
        { ...p, ...(p?.ladder ? { ladder: p.ladder.map(withCluster) } : {}) },
      ]),
    ) as Partial<
      Record<
        StageName,
        {
          hangAfter?: number;
          ladder?: (z.output<typeof rungSchema> & { cluster: string })[];
          onExhausted?: 'fail' | 'wait';
        }
      >
    >;
    return { ...config, placement: { ...config.placement, ladder, stages } };
  });

/** A loaded temporal.yaml: defaults filled in, durations in ms, local and relative paths absolute. */
export type CryoConfig = z.output<typeof configSchema>;
/** temporal.yaml as written (before defaults). */
export type CryoConfigInput = z.input<typeof configSchema>;
/** One cluster entry of {@link CryoConfig}. */
export type ClusterConfig = CryoConfig['clusters'][string];
/** One rung of the placement ladder, with its cluster filled in. */
export type PlacementRung = CryoConfig['placement']['ladder'][number];

/** The GPU type and count of a `--gres` value: `gpu:a10g:4` → `{ type: 'a10g', count: 4 }`. */
export function parseGres(gres: string): { type?: string; count: number } {
  const parts = gres.split(':');
  const count = Number(parts[parts.length - 1]);
  return parts.length === 3 ? { type: parts[1]!, count } : { count };
}
