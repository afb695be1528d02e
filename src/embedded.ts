/**
 * Where the embedded profile's Python tools live (this package's `embedded/` folder): the
 * AreTomo2 STAND-IN (CPU weighted back-projection; not AreTomo2), the synthetic dataset
 * generator and the ground-truth check. They need numpy (Debian's python3-numpy, installed
 * by scripts/setup.sh) and run with /usr/bin/python3.
 */
import { fileURLToPath } from 'node:url';

export const EMBEDDED_DIR = fileURLToPath(new URL('../embedded/', import.meta.url));
export const ARETOMO2_STANDIN = `${EMBEDDED_DIR}aretomo2_standin.py`;
export const MAKE_DATASET = `${EMBEDDED_DIR}make_dataset.py`;
export const CHECK_TRUTH = `${EMBEDDED_DIR}check_truth.py`;
/** The relion5 profile's dataset: RELION 5 formats, with a CTF and ground truth. */
export const MAKE_RELION5_DATASET = `${EMBEDDED_DIR}make_relion5_dataset.py`;
export const EMBEDDED_PYTHON = '/usr/bin/python3';
/** The demo campaign file. */
export const EMBEDDED_CAMPAIGN = fileURLToPath(new URL('../campaigns/embedded-10164.yaml', import.meta.url));
/** The relion5 profile's campaign file. */
export const RELION5_CAMPAIGN = fileURLToPath(new URL('../campaigns/relion5-10164.yaml', import.meta.url));
