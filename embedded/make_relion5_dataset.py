#!/usr/bin/python3
"""Makes the SYNTHETIC dataset of the relion5 profile, in RELION 5's own formats, with a CTF,
and its ground truth beside it.

Tilt series of tomograms holding copies of the pseudo-atomic chiral C6 particle
(particle_atoms.py) at known positions and orientations. The forward model is RELION 5's own
(src/jaz/tomography/tomogram.cpp, src/ctf.h, src/jaz/optics/damage.cpp):
- tilt f projects tomogram voxel x to image pixel Rz(ZRot) Ry(YTilt) (x - int(size/2)) +
  int(image/2) + shift / pixel size; with --tilt-axis A the tilt axis is at ZRot = A (else the
  image Y) and with --shift-max S every tilt but the zero tilt has a random shift of up to S
  pixels (the stage drifts; the microscope re-centres the target at zero tilt), as a real
  tilt series has (EMPIAR-10164's axis is ~85 degrees);
- each particle's image is modulated by the CTF at its own defocus: the tilt's defocus plus
  hand x pixel size x its depth in the tilted frame (rlnTomoHand +1, slope 1), with
  CTF = -sin(gamma), gamma = -pi lambda dz k^2 + pi/2 Cs lambda^3 k^4 - atan(Q0/sqrt(1-Q0^2)),
  and attenuated by the dose it has had (exp(-dose / (2 (0.245 k^-1.665 + 2.81))));
- the image is the negated sum (particles dark, as in real data) plus Gaussian noise of one
  level for every tilt (the signal fades with dose, the noise does not).
Dose-symmetric order: the tilts are acquired in order of |tilt|, positive first.

Written under --out:
  TS_NN.mrc, TS_NN.rawtlt, TS_NN_picks.star    stack (for AreTomo2), angles, picks in voxels
  relion5/tomograms.star                       data_global: one row per tomogram
  relion5/tilt_series/TS_NN.star               data_TS_NN: one row per tilt (CTF, geometry, dose):
                                               the "published" alignment (the true one)
  relion5/ctf/tomograms.star, ctf/tilt_series/ the same before alignment (RELION's import + CTF
                                               jobs' output: no ZRot, shifts or YTilt columns),
                                               what a campaign aligns itself
  relion5/particles.star                       picks: rlnTomoName + centred coordinates in Å
  reference.mrc, masks/mask_align.mrc, masks/mask_fsc.mrc
  truth/: noise-free tomograms (no CTF, positive density), the particle at refine sampling,
          truth/particles.star with the true orientations, truth/TS_NN_alignment.json with
          the true tilt axis and per-tilt shifts (px)
  dataset.json: all of the above and the parameters; a second run with the same parameters
  finds it and does nothing.
Paths inside the STAR files are absolute (RELION resolves relative paths against its working
folder, which is the campaign's, not this one).

usage: make_relion5_dataset.py --out DIR [--series 2] [--size 192,192,48] [--particles 16]
                               [--seed 5005] [--snr 0.5] [--tilt-axis 84.3] [--shift-max 6] [--gold 10]
(--tilt-axis 0 --shift-max 0 --gold 0: a series aligned by construction, the tilt axis on Y)
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aretomo2_standin import write_mrc  # noqa: E402
from dataset_files import place_particles, soft_sphere, star_loop, write_text  # noqa: E402
from particle import euler_matrix, lowpass, render, render_box  # noqa: E402
from particle_atoms import DIAMETER_A, SIGMA_A, atoms  # noqa: E402

NAMES = ["TS_01", "TS_03", "TS_43", "TS_45", "TS_54"]
TILTS = np.arange(-60.0, 60.0 + 1e-9, 3.0)
APIX = 6.0
BOX = 48  # relion_tomo_subtomo --b
CROP = 32  # --crop: the refine's box
DOSE_PER_TILT = 3.0
VOLTAGE_KV = 300.0
CS_MM = 2.7
Q0 = 0.07
DEFOCUS_A = (20000.0, 30000.0)  # per series, uniform; then +-500 per tilt
HAND = 1
GOLD_SIGMA_A = 25.0  # a 10 nm colloidal gold bead, as a Gaussian
GOLD_CLEARANCE_PX = 30  # distance of a bead from any particle's centre
GOLD_MASS = 30.0  # its integrated scattering, in particles: 524 nm³ of gold (~30× protein per volume) vs a ~400 nm³ hexamer
NOMINAL_AXIS_OFFSET_DEG = 0.7  # the microscope's metadata (rlnTomoNominalTiltAxisAngle) is off by this
REFERENCE_LOWPASS_A = 60.0
PATCH = 64  # px around each particle's projection, for its own CTF
MASK_RADIUS_PX, MASK_EDGE_PX = 14, 2
VERSION = 3  # 2: tilt axis, shifts and gold fiducials; 3: those by default


def wavelength_a(kv):
    volts = kv * 1e3
    return 12.2643247 / np.sqrt(volts * (1.0 + volts * 0.978466e-6))


def ctf(k2, defocus_a):
    """RELION's CTF (src/ctf.h) without astigmatism, at squared spatial frequencies k2 (1/Å²)."""
    lam = wavelength_a(VOLTAGE_KV)
    k1, k2c, k3 = np.pi * lam, np.pi / 2 * CS_MM * 1e7 * lam**3, np.arctan(Q0 / np.sqrt(1 - Q0 * Q0))
    return -np.sin(-k1 * defocus_a * k2 + k2c * k2 * k2 - k3)


def dose_weight(k, dose):
    """RELION's Grant-Grigorieff weight (src/jaz/optics/damage.cpp), k in 1/Å."""
    with np.errstate(divide="ignore"):
        return np.where(k > 0, np.exp(-0.5 * dose / (0.245 * np.power(np.maximum(k, 1e-9), -1.665) + 2.81)), 1.0)


def pre_exposures(tilts):
    order = sorted(range(len(tilts)), key=lambda i: (abs(tilts[i]), -tilts[i]))
    dose = np.zeros(len(tilts))
    for rank, i in enumerate(order):
        dose[i] = rank * DOSE_PER_TILT
    return dose


def y_tilt(degrees):
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def z_rot(degrees):
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])


def patch_image(points_px, origin, sigma):
    """Projected Gaussians (analytic: a 3D Gaussian projects to a 2D one) on a PATCH² grid;
    points_px rows are (x, y, amplitude) in image pixels."""
    grid = np.arange(PATCH)
    gx = np.exp(-((grid[None, :] + origin[0] - points_px[:, 0:1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((grid[None, :] + origin[1] - points_px[:, 1:2]) ** 2) / (2 * sigma**2))
    return (gy * points_px[:, 2:3] * sigma * np.sqrt(2 * np.pi)).T @ gx


def gold_amplitude(model):
    """Peak amplitude of a bead whose integral is GOLD_MASS particles' (Gaussians of sigma^3)."""
    return GOLD_MASS * model[:, 3].sum() * (SIGMA_A / GOLD_SIGMA_A) ** 3


def place_gold(rng, shape, count, centres, who):
    """Gold fiducials on the slab's two surfaces (alternately), clear of the particles and of
    each other."""
    nz, ny, nx = shape
    beads = []
    for _ in range(20000):
        if len(beads) == count:
            break
        b = np.array([rng.uniform(16, nx - 16), rng.uniform(16, ny - 16), (4.0, nz - 4.0)[len(beads) % 2]])
        if all(np.linalg.norm(b - c) >= GOLD_CLEARANCE_PX for c in centres) and all(np.linalg.norm(b - o) >= 16 for o in beads):
            beads.append(b)
    if len(beads) < count:
        raise SystemExit(f"{who}: only {len(beads)} of {count} gold fiducials fit clear of the particles")
    return beads


def project_series(shape, centres, rotations, tilts, axis_deg, shifts, defocus, dose, rng, snr, gold=()):
    """The noisy tilt stack [n, ny, nx] and the noise-free, CTF-free zero-tilt image;
    shifts [n, 2] in pixels, in the image plane (after the tilt-axis rotation). `gold`:
    fiducial centres (voxels), 10 nm beads imaged like the particles (the noise level is set
    by the particles alone)."""
    nz, ny, nx = shape
    centre = np.array([nx // 2, ny // 2, nz // 2], dtype=float)
    image_centre = np.array([nx // 2, ny // 2], dtype=float)
    sigma = SIGMA_A / APIX
    model = atoms()
    freqs = np.fft.fftfreq(PATCH) / APIX
    kx, ky = np.meshgrid(freqs, freqs)
    k2 = kx**2 + ky**2
    images = np.zeros((len(tilts), ny, nx))
    plain = np.zeros((ny, nx))
    axis = z_rot(axis_deg)
    bead = np.array([[0.0, 0.0, 0.0, gold_amplitude(model)]])
    things = [(c, r, model, sigma, True) for c, r in zip(centres, rotations)] + [(g, np.eye(3), bead, GOLD_SIGMA_A / APIX, False) for g in gold]
    for f, t in enumerate(tilts):
        tilt = axis @ y_tilt(t)
        weight = dose_weight(np.sqrt(k2), dose[f])
        for c, rotation, points, width, is_particle in things:
            local = tilt @ (c - centre)
            depth = local[2]
            at = local[:2] + image_centre + shifts[f]
            rel = (tilt @ rotation @ (points[:, :3].T / APIX)).T
            origin = np.floor(at).astype(int) - PATCH // 2
            clean = patch_image(np.column_stack([rel[:, :2] + at, points[:, 3]]), origin, width)
            modulated = np.real(np.fft.ifft2(np.fft.fft2(clean) * ctf(k2, defocus[f] + HAND * APIX * depth) * weight))
            ys, xs = slice(max(origin[1], 0), min(origin[1] + PATCH, ny)), slice(max(origin[0], 0), min(origin[0] + PATCH, nx))
            py, px = slice(ys.start - origin[1], ys.stop - origin[1]), slice(xs.start - origin[0], xs.stop - origin[0])
            images[f, ys, xs] -= modulated[py, px]
            if t == 0 and is_particle:
                plain[ys, xs] += clean[py, px]
    noise_sd = np.sqrt(plain.var() / snr)
    return images + rng.normal(size=images.shape) * noise_sd, noise_sd


def tilt_series_star(name, tilts, defocus, dose, axis, shifts=None):
    """The per-tilt table; with `shifts` (px) also the alignment: XTilt 0, YTilt = the tilt,
    ZRot = the tilt axis, shifts in Å (what RELION's AreTomo2 import writes)."""
    columns = ["rlnTomoNominalStageTiltAngle", "rlnTomoNominalTiltAxisAngle", "rlnMicrographPreExposure", "rlnDefocusU", "rlnDefocusV",
               "rlnDefocusAngle"]
    nominal = axis + NOMINAL_AXIS_OFFSET_DEG if axis else 0.0
    rows = [[f"{t:.2f}", f"{nominal:.2f}", f"{d:.2f}", f"{z:.1f}", f"{z:.1f}", "0.0"] for t, z, d in zip(tilts, defocus, dose)]
    if shifts is not None:
        columns += ["rlnTomoXTilt", "rlnTomoYTilt", "rlnTomoZRot", "rlnTomoXShiftAngst", "rlnTomoYShiftAngst"]
        for row, t, s in zip(rows, tilts, shifts):
            row += ["0.0", f"{t:.2f}", f"{axis:.3f}" if axis else "0.0"] + [f"{v * APIX:.3f}" if axis or v else "0.0" for v in s]
    return star_loop(name, columns, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--series", type=int, default=2, help=f"tilt series (at most {len(NAMES)})")
    parser.add_argument("--size", default="192,192,48", help="tomogram nx,ny,nz in voxels")
    parser.add_argument("--particles", type=int, default=16, help="particles per tomogram")
    parser.add_argument("--seed", type=int, default=5005)
    parser.add_argument("--snr", type=float, default=0.5, help="variance of the zero-tilt CTF-free projection over the noise's")
    parser.add_argument("--tilt-axis", type=float, default=84.3, help="the true tilt axis, degrees (RELION ZRot); 0: the image Y")
    parser.add_argument("--shift-max", type=float, default=6.0, help="random per-tilt shifts up to this many pixels")
    parser.add_argument("--gold", type=int, default=10, help="10 nm gold fiducials per tomogram (EMPIAR-10164 has them)")
    args = parser.parse_args()
    if not 1 <= args.series <= len(NAMES):
        raise SystemExit(f"make_relion5_dataset: --series {args.series}: expected 1 to {len(NAMES)}")
    nx, ny, nz = (int(v) for v in args.size.split(","))
    shape = (nz, ny, nx)
    params = {"series": args.series, "size": [nx, ny, nz], "particles": args.particles, "seed": args.seed, "snr": args.snr, "version": VERSION}
    if args.tilt_axis or args.shift_max or args.gold:
        params.update({"tiltAxis": args.tilt_axis, "shiftMax": args.shift_max, "gold": args.gold})
    out = os.path.abspath(args.out)
    manifest_path = os.path.join(out, "dataset.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("parameters") == params:
                print(f"make_relion5_dataset: {out} already holds this dataset (dataset.json matches); nothing to do")
                return 0
    started = time.time()
    for sub in ("truth", "masks", "relion5/tilt_series", "relion5/ctf/tilt_series"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    dose = pre_exposures(TILTS)
    tomo_rows, ctf_rows, pick_rows, truth_rows, series = [], [], [], [], []
    for index, name in enumerate(NAMES[: args.series]):
        rng = np.random.default_rng(args.seed * 100 + index)
        centres, angles = place_particles(rng, shape, args.particles, BOX // 2 + (8 if args.tilt_axis else 0), 16, 27, 50000, "make_relion5_dataset")
        rotations = [euler_matrix(*a) for a in angles]
        defocus = rng.uniform(*DEFOCUS_A) + rng.uniform(-500, 500, len(TILTS))
        # Their own generator: the particles, defocus and noise are those of the aligned dataset.
        shifts = np.random.default_rng(args.seed * 100 + index + 50000).uniform(-args.shift_max, args.shift_max, (len(TILTS), 2))
        shifts[np.argmin(np.abs(TILTS))] = 0.0
        gold = place_gold(np.random.default_rng(args.seed * 100 + index + 60000), shape, args.gold, centres, "make_relion5_dataset")
        truth = render(shape, [(c[0], c[1], c[2], r) for c, r in zip(centres, rotations)], APIX, SIGMA_A, points=atoms())
        if gold:
            # The beads are part of the specimen (the tomogram's truth holds them too).
            bead = np.array([[0.0, 0.0, 0.0, gold_amplitude(atoms())]])
            truth += render(shape, [(g[0], g[1], g[2], np.eye(3)) for g in gold], APIX, GOLD_SIGMA_A, points=bead)
        write_mrc(os.path.join(out, "truth", f"{name}_tomogram.mrc"), truth, APIX)
        noisy, noise_sd = project_series(shape, centres, rotations, TILTS, args.tilt_axis, shifts, defocus, dose, rng, args.snr, gold)
        stack = os.path.join(out, f"{name}.mrc")
        write_mrc(stack, noisy, APIX, is_stack=True)
        write_text(os.path.join(out, f"{name}.rawtlt"), "".join(f"{t:.2f}\n" for t in TILTS))
        write_text(os.path.join(out, f"{name}_picks.star"),
                   star_loop("", ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"], [tuple(int(v) for v in c) for c in centres]))
        ts_star = os.path.join(out, "relion5", "tilt_series", f"{name}.star")
        write_text(ts_star, tilt_series_star(name, TILTS, defocus, dose, args.tilt_axis, shifts))
        ctf_star = os.path.join(out, "relion5", "ctf", "tilt_series", f"{name}.star")
        write_text(ctf_star, tilt_series_star(name, TILTS, defocus, dose, args.tilt_axis))
        optics = (name, VOLTAGE_KV, CS_MM, Q0, APIX, HAND, APIX, DOSE_PER_TILT, nx, ny, nz, stack, len(TILTS))
        tomo_rows.append((*optics, ts_star))
        ctf_rows.append((*optics, ctf_star))
        write_text(os.path.join(out, "truth", f"{name}_alignment.json"), json.dumps({
            "tiltAxis": args.tilt_axis, "tilts": [float(t) for t in TILTS],
            "shiftsPx": [[round(float(v), 4) for v in s] for s in shifts],
            "convention": "RELION 5: image px = Rz(tiltAxis) Ry(tilt) (x - int(size/2)) + int(image/2) + shift"}, indent=1) + "\n")
        for c, a in zip(centres, angles):
            centred = [f"{(v - s / 2.0) * APIX:.2f}" for v, s in zip(c, (nx, ny, nz))]
            pick_rows.append((name, *centred))
            truth_rows.append((name, *centred, *(f"{v:.3f}" for v in a)))
        series.append({"name": name, "stack": f"{name}.mrc", "angles": f"{name}.rawtlt", "picks": f"{name}_picks.star",
                       "truthTomogram": f"truth/{name}_tomogram.mrc", "particles": len(centres),
                       "defocus": {"min": float(defocus.min()), "max": float(defocus.max())}, "noiseSd": float(noise_sd)})
        print(f"make_relion5_dataset: {name}: {len(centres)} particles, {len(TILTS)} tilts ({time.time() - started:.1f} s)", flush=True)
    global_columns = [
        "rlnTomoName", "rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnMicrographOriginalPixelSize",
        "rlnTomoHand", "rlnTomoTiltSeriesPixelSize", "rlnTomoImportFractionalDose", "rlnTomoSizeX", "rlnTomoSizeY",
        "rlnTomoSizeZ", "rlnTomoTiltSeriesName", "rlnTomoFrameCount", "rlnTomoTiltSeriesStarFile"]
    write_text(os.path.join(out, "relion5", "tomograms.star"), star_loop("global", global_columns, tomo_rows))
    write_text(os.path.join(out, "relion5", "ctf", "tomograms.star"), star_loop("global", global_columns, ctf_rows))
    coords = ["rlnTomoName", "rlnCenteredCoordinateXAngst", "rlnCenteredCoordinateYAngst", "rlnCenteredCoordinateZAngst"]
    write_text(os.path.join(out, "relion5", "particles.star"), star_loop("particles", coords, pick_rows))
    write_text(os.path.join(out, "truth", "particles.star"),
               star_loop("particles", coords + ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"], truth_rows))
    refine_truth = render_box(CROP, APIX, model="atoms")
    write_mrc(os.path.join(out, "truth", "particle_refine.mrc"), refine_truth, APIX)
    write_mrc(os.path.join(out, "reference.mrc"), lowpass(refine_truth, APIX, REFERENCE_LOWPASS_A), APIX)
    mask = soft_sphere(CROP, MASK_RADIUS_PX, MASK_EDGE_PX)
    write_mrc(os.path.join(out, "masks", "mask_align.mrc"), mask, APIX)
    write_mrc(os.path.join(out, "masks", "mask_fsc.mrc"), mask, APIX)
    manifest = {
        "description": "SYNTHETIC dataset in RELION 5 formats with a CTF, for the relion5 profile (embedded/make_relion5_dataset.py)",
        "parameters": params,
        "pixelSize": APIX,
        "dosePerTilt": DOSE_PER_TILT,
        "contrast": "dark",
        "ctf": {"voltage": VOLTAGE_KV, "cs": CS_MM, "amplitudeContrast": Q0, "defocusRange": list(DEFOCUS_A), "hand": HAND},
        "tilts": {"min": float(TILTS[0]), "max": float(TILTS[-1]), "step": 3.0, "count": len(TILTS), "order": "dose-symmetric"},
        "alignment": {"tiltAxis": args.tilt_axis, "nominalTiltAxis": args.tilt_axis + NOMINAL_AXIS_OFFSET_DEG if args.tilt_axis else 0.0,
                      "shiftMaxPx": args.shift_max,
                      "truth": "truth/TS_NN_alignment.json"},
        "tomogram": {"nx": nx, "ny": ny, "nz": nz},
        "particle": {"model": "atoms", "symmetry": "C6", "diameter": DIAMETER_A, "atomSigma": SIGMA_A, "box": BOX, "crop": CROP},
        "reference": {"file": "reference.mrc", "lowpass": REFERENCE_LOWPASS_A},
        "masks": {"radiusPx": MASK_RADIUS_PX, "softEdgePx": MASK_EDGE_PX},
        "relion5": {"tomograms": "relion5/tomograms.star", "particles": "relion5/particles.star",
                    "beforeAlignment": "relion5/ctf/tomograms.star"},
        "tiltSeries": series,
    }
    write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    print(f"make_relion5_dataset: wrote {out} in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
