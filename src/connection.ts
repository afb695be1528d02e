/**
 * Temporal connection settings from temporal.yaml: address and namespace, mTLS from
 * files, or a Temporal env-config profile (TOML) for Temporal Cloud and shared
 * clusters. Explicit temporal.yaml fields win over the profile; unset ones fall back to
 * the profile, then to the local dev server (127.0.0.1:7233, namespace `default`).
 */
import { readFileSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { CryoConfig } from './config.js';

/** Connection options (usable for NativeConnection and Connection) plus the namespace. */
export interface TemporalTarget {
  readonly connectionOptions: NativeConnectionOptions;
  readonly namespace: string;
  readonly taskQueue: string;
}

/** Builds connection options; reads TLS files and the profile, nothing else. */
export function temporalTarget(config: CryoConfig): TemporalTarget {
  const t = config.temporal;
  let fromProfile: NativeConnectionOptions = {};
  let profileNamespace: string | undefined;
  if (t.profile !== undefined || t.configFile !== undefined) {
    const loaded = loadClientConnectConfig({
      profile: t.profile,
      configSource: t.configFile ? { path: t.configFile } : undefined,
      disableEnv: true,
    });
    fromProfile = loaded.connectionOptions;
    profileNamespace = loaded.namespace;
  }
  const tls = t.tls
    ? {
        serverNameOverride: t.tls.serverName,
        serverRootCACertificate: t.tls.serverCaFile ? readFileSync(t.tls.serverCaFile) : undefined,
        clientCertPair: { crt: readFileSync(t.tls.clientCertFile), key: readFileSync(t.tls.clientKeyFile) },
      }
    : fromProfile.tls;
  return {
    connectionOptions: {
      ...fromProfile,
      address: t.address ?? fromProfile.address ?? '127.0.0.1:7233',
      ...(tls ? { tls } : {}),
    },
    namespace: t.namespace ?? profileNamespace ?? 'default',
    taskQueue: t.taskQueue,
  };
}
