#!/usr/bin/python3
"""Makes the embedded profile's SYNTHETIC EMPIAR-10164-like dataset, with its ground truth.

Five tilt series (TS_01, TS_03, TS_43, TS_45, TS_54) of tomograms holding copies of a chiral
C6 particle (particle.py) at known positions and orientations. Each series: an MRC stack of
tilt images (-60..+60 degrees in 3 degree steps about Y, projected analytically: a Gaussian
blob projects to a Gaussian), Gaussian noise at the given SNR, the .rawtlt angles and the
particle picks as a RELION coordinate STAR file. Ground truth beside them in truth/: the
noise-free tomograms, the particle at tomogram and at refine sampling, true coordinates and
angles. Also the starting reference for the refine (the truth particle at refine sampling,
low-passed) and dataset.json, which lists all of it.

A second run with the same parameters finds dataset.json and does nothing (the campaign tests
and the demo share one cached dataset).

usage: make_dataset.py --out DIR [--size 192,192,64] [--particles 30] [--seed 10164] [--snr 0.1]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aretomo2_standin import write_mrc  # noqa: E402
from dataset_files import place_particles, star_loop, write_text  # noqa: E402
from particle import BLOB_SIGMA_A, DIAMETER_A, blobs, euler_matrix, lowpass, render, render_box  # noqa: E402

NAMES = ["TS_01", "TS_03", "TS_43", "TS_45", "TS_54"]
TILTS = np.arange(-60.0, 60.0 + 1e-9, 3.0)
APIX = 10.0
BOX = 32
REFINE_BOX = 24
DOSE_PER_TILT = 3.0
REFERENCE_LOWPASS_A = 60.0


def project(shape, centres, rotations, angles_deg):
    """Noise-free tilt images [n, ny, nx]: tilt t images voxel (x, z) from the centre at
    u = x cos(t) + z sin(t) (the convention the WBP stand-in inverts)."""
    nz, ny, nx = shape
    sigma = BLOB_SIGMA_A / APIX
    reach = int(np.ceil(4 * sigma))
    line_integral = sigma * np.sqrt(2 * np.pi)
    points = []
    for c, rotation in zip(centres, rotations):
        for bx, by, bz, amp in blobs():
            points.append((c + rotation @ (np.array([bx, by, bz]) / APIX), amp))
    images = np.zeros((len(angles_deg), ny, nx))
    for i, t in enumerate(np.deg2rad(angles_deg)):
        for p, amp in points:
            u = (p[0] - nx // 2) * np.cos(t) + (p[2] - nz // 2) * np.sin(t) + nx // 2
            v = p[1]
            u0, v0 = int(np.floor(u)), int(np.floor(v))
            xs = np.arange(max(u0 - reach, 0), min(u0 + reach + 1, nx))
            ys = np.arange(max(v0 - reach, 0), min(v0 + reach + 1, ny))
            if xs.size == 0 or ys.size == 0:
                continue
            g = np.exp(-((ys[:, None] - v) ** 2 + (xs[None, :] - u) ** 2) / (2 * sigma**2))
            images[i, ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1] += amp * line_integral * g
    return images


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", default="192,192,64", help="tomogram nx,ny,nz in voxels")
    parser.add_argument("--particles", type=int, default=30, help="particles per tomogram")
    parser.add_argument("--seed", type=int, default=10164)
    parser.add_argument("--snr", type=float, default=0.1, help="signal-to-noise ratio per tilt image")
    args = parser.parse_args()
    nx, ny, nz = (int(v) for v in args.size.split(","))
    shape = (nz, ny, nx)
    params = {"size": [nx, ny, nz], "particles": args.particles, "seed": args.seed, "snr": args.snr, "version": 1}
    manifest_path = os.path.join(args.out, "dataset.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("parameters") == params:
                print(f"make_dataset: {args.out} already holds this dataset (dataset.json matches); nothing to do")
                return 0
    started = time.time()
    os.makedirs(os.path.join(args.out, "truth"), exist_ok=True)
    refine_apix = APIX * BOX / REFINE_BOX
    series = []
    for index, name in enumerate(NAMES):
        rng = np.random.default_rng(args.seed * 100 + index)
        centres, angles = place_particles(rng, shape, args.particles, BOX // 2 + 2, 14, 26, 20000, "make_dataset")
        rotations = [euler_matrix(*a) for a in angles]
        truth = render(shape, [(c[0], c[1], c[2], r) for c, r in zip(centres, rotations)], APIX)
        write_mrc(os.path.join(args.out, "truth", f"{name}_tomogram.mrc"), truth, APIX)
        clean = project(shape, centres, rotations, TILTS)
        noise_sd = np.sqrt(clean.var(axis=(1, 2)) / args.snr)
        noisy = clean + rng.normal(size=clean.shape) * noise_sd[:, None, None]
        stack = os.path.join(args.out, f"{name}.mrc")
        write_mrc(stack, noisy, APIX, is_stack=True)
        write_text(os.path.join(args.out, f"{name}.rawtlt"), "".join(f"{t:.2f}\n" for t in TILTS))
        write_text(
            os.path.join(args.out, f"{name}_picks.star"),
            star_loop("", ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"], [tuple(int(v) for v in c) for c in centres]),
        )
        write_text(
            os.path.join(args.out, "truth", f"{name}_particles.star"),
            star_loop(
                "",
                ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"],
                [(*(int(v) for v in c), *(f"{v:.3f}" for v in a)) for c, a in zip(centres, angles)],
            ),
        )
        series.append({"name": name, "stack": f"{name}.mrc", "angles": f"{name}.rawtlt", "picks": f"{name}_picks.star", "truthTomogram": f"truth/{name}_tomogram.mrc", "particles": len(centres)})
        print(f"make_dataset: {name}: {len(centres)} particles, {len(TILTS)} tilts ({time.time() - started:.1f} s)", flush=True)
    write_mrc(os.path.join(args.out, "truth", "particle.mrc"), render_box(BOX, APIX), APIX)
    refine_truth = render_box(REFINE_BOX, refine_apix)
    write_mrc(os.path.join(args.out, "truth", "particle_refine.mrc"), refine_truth, refine_apix)
    write_mrc(os.path.join(args.out, "reference.mrc"), lowpass(refine_truth, refine_apix, REFERENCE_LOWPASS_A), refine_apix)
    manifest = {
        "description": "SYNTHETIC EMPIAR-10164-like dataset for the embedded CPU profile (made by embedded/make_dataset.py)",
        "parameters": params,
        "pixelSize": APIX,
        "dosePerTilt": DOSE_PER_TILT,
        "tilts": {"min": float(TILTS[0]), "max": float(TILTS[-1]), "step": 3.0, "count": len(TILTS)},
        "tomogram": {"nx": nx, "ny": ny, "nz": nz},
        "particle": {"symmetry": "C6", "diameter": DIAMETER_A, "box": BOX, "refineBox": REFINE_BOX, "refinePixelSize": refine_apix},
        "reference": {"file": "reference.mrc", "lowpass": REFERENCE_LOWPASS_A},
        "tiltSeries": series,
    }
    write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    print(f"make_dataset: wrote {args.out} in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
