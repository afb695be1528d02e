#!/usr/bin/python3
"""Compares embedded-profile results with the synthetic dataset's ground truth; prints JSON.

  check_truth.py tomogram --recon TS_01.mrc --truth truth/TS_01_tomogram.mrc [--lowpass 40] [--contrast dark]
      correlation of the reconstruction with the noise-free truth tomogram, both low-passed,
      and with the truth flipped in Z (what a wrong tilt sign would give).
  check_truth.py map --map run_class001.mrc --truth truth/particle_refine.mrc [--model atoms]
      the refined map against the truth particle after an integer-shift search (ccTruth); FSC
      per shell against the truth fitted to the map (best turn about the symmetry axis in 1
      degree steps, then integer shift) and the resolutions where it falls below 0.5 and 0.143;
      and the hand check: the best
      correlation with the particle and with its mirror image (enantiomer), each searched over
      turns about the symmetry axis (2 degree steps over the 60 degrees C6 leaves distinct).
  check_truth.py alignment --truth truth/TS_01_alignment.json (--aln TS_01.aln | --star TS_01.star --apix 6)
      a tilt-series alignment (AreTomo2's .aln, or a RELION 5 per-tilt STAR) against the true
      one: tilt-axis error (degrees) and the per-tilt shift error RMS and maximum (px), after
      removing the part no alignment can know, a translation of the whole specimen (dx, dy, dz:
      shifts dx cos(tilt) + dz sin(tilt) across and dy along the axis), which is reported.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aretomo2_standin import read_mrc  # noqa: E402
from dataset_files import soft_sphere  # noqa: E402
from particle import lowpass, render_box  # noqa: E402


def cc(a, b, mask=None):
    if mask is not None:
        a, b = a[mask], b[mask]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def check_tomogram(args):
    recon, apix = read_mrc(args.recon)
    truth, _ = read_mrc(args.truth)
    if recon.shape != truth.shape:
        raise SystemExit(f"check_truth: {args.recon} is {recon.shape[::-1]} but {args.truth} is {truth.shape[::-1]}")
    r, t = lowpass(recon, apix, args.lowpass), lowpass(truth, apix, args.lowpass)
    if args.contrast == "dark":
        t = -t  # raw-contrast data (make_relion5_dataset.py): density shows dark
    return {"cc": cc(r, t), "ccFlippedZ": cc(r, t[::-1]), "lowpass": args.lowpass, "pixelSize": apix}


def best_shift(volume, truth, mask, reach=3):
    best = (-2.0, (0, 0, 0))
    for dz in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                shifted = np.roll(volume, (dz, dy, dx), axis=(0, 1, 2))
                value = cc(shifted * mask, truth * mask)
                if value > best[0]:
                    best = (value, (dz, dy, dx))
    return best


def fsc(a, b):
    n = a.shape[0]
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    f = np.fft.fftfreq(n) * n
    fz, fy, fx = np.meshgrid(f, f, f, indexing="ij")
    shell = np.round(np.sqrt(fx**2 + fy**2 + fz**2)).astype(int)
    curve = []
    for k in range(1, n // 2 + 1):
        sel = shell == k
        num = np.real((fa[sel] * np.conj(fb[sel])).sum())
        den = np.sqrt((np.abs(fa[sel]) ** 2).sum() * (np.abs(fb[sel]) ** 2).sum())
        curve.append(float(num / den) if den > 0 else 0.0)
    return curve


def crossing(curve, threshold, n, apix):
    """Resolution (Angstrom) of the last shell before the curve falls below threshold, counted
    from the first shell at or above it: the first shell (the box's own scale) can sit low
    when a map's solvent was flattened, and is no resolution. None if no shell reaches it."""
    above = [k for k, value in enumerate(curve, start=1) if value >= threshold]
    if not above:
        return None
    for k in range(above[0], len(curve) + 1):
        if curve[k - 1] < threshold:
            return n * apix / (k - 1)
    return n * apix / len(curve)


def check_map(args):
    volume, apix = read_mrc(args.map)
    truth, _ = read_mrc(args.truth)
    n = volume.shape[0]
    mask = soft_sphere(n, args.mask_radius or n // 2 - 3)
    value, shift = best_shift(volume, truth, mask)
    aligned_map = np.roll(volume, shift, axis=(0, 1, 2))
    turns = np.arange(0.0, 60.0, 1.0)
    fits = [max((cc(aligned_map * mask, render_box(n, apix, mirror, t, args.model) * mask), t) for t in turns) for mirror in (False, True)]
    hand = [fit[0] for fit in fits]
    # The FSC against the truth fitted to the map: turned about the symmetry axis and shifted,
    # the two freedoms a refinement does not pin (its reference fixes them only to its own
    # resolution), so resolution is not lost to a misfit of a degree or a voxel.
    turn = fits[0][1]
    fitted = render_box(n, apix, False, turn, args.model)
    _, shift = best_shift(volume, fitted, mask, reach=2)
    aligned = np.roll(volume, shift, axis=(0, 1, 2)) * mask
    curve = fsc(aligned, fitted * mask)
    return {
        "pixelSize": apix,
        "box": n,
        "shift": list(shift),
        "turn": float(turn),
        "ccTruth": value,
        "handTruth": hand[0],
        "handMirror": hand[1],
        "fsc": [{"shell": k, "resolution": n * apix / k, "fsc": v} for k, v in enumerate(curve, start=1)],
        "resolutionAtFsc05": crossing(curve, 0.5, n, apix),
        "resolutionAtFsc0143": crossing(curve, 0.143, n, apix),
    }


def read_alignment(args):
    """(tilt axis per tilt, tilts, shifts [n, 2] px) in stack-section order."""
    if args.aln:
        with open(args.aln) as f:
            rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
        rows = sorted(rows, key=lambda r: int(r[0]))
        return (np.array([float(r[1]) for r in rows]), np.array([float(r[9]) for r in rows]),
                np.array([[float(r[3]), float(r[4])] for r in rows]))
    with open(args.star) as f:
        lines = [line.strip() for line in f]
    columns = [line.split()[0][1:] for line in lines if line.startswith("_")]
    rows = [line.split() for line in lines if line and not line.startswith(("_", "#", "data_", "loop_"))]
    col = {name: i for i, name in enumerate(columns)}
    get = lambda name: np.array([float(r[col[name]]) for r in rows])  # noqa: E731
    shifts = np.column_stack([get("rlnTomoXShiftAngst"), get("rlnTomoYShiftAngst")]) / args.apix
    return get("rlnTomoZRot"), get("rlnTomoYTilt"), shifts


def check_alignment(args):
    with open(args.truth) as f:
        truth = json.load(f)
    rot, tilts, shifts = read_alignment(args)
    true_tilts, true_shifts = np.array(truth["tilts"]), np.array(truth["shiftsPx"])
    if len(tilts) != len(true_tilts) or np.abs(tilts - true_tilts).max() > 0.5:
        raise SystemExit(f"check_truth: the alignment's {len(tilts)} tilts do not match the truth's {len(true_tilts)}")
    axis = np.deg2rad(truth["tiltAxis"])
    back = np.array([[np.cos(axis), np.sin(axis)], [-np.sin(axis), np.cos(axis)]])  # R(-axis)
    error = (shifts - true_shifts) @ back.T  # in the frame with the tilt axis along Y
    t = np.deg2rad(true_tilts)
    design = np.column_stack([np.cos(t), np.sin(t)])
    (dx, dz), *_ = np.linalg.lstsq(design, error[:, 0], rcond=None)
    dy = float(error[:, 1].mean())
    residual = error - np.column_stack([design @ [dx, dz], np.full(len(t), dy)])
    norms = np.linalg.norm(residual, axis=1)
    return {
        "tiltAxis": float(np.mean(rot)), "trueTiltAxis": truth["tiltAxis"],
        "axisErrorDeg": round(float(np.mean(rot) - truth["tiltAxis"]), 4),
        "shiftRmsPx": round(float(np.sqrt((norms**2).mean())), 4), "shiftMaxPx": round(float(norms.max()), 4),
        "rawShiftRmsPx": round(float(np.sqrt((np.linalg.norm(shifts - true_shifts, axis=1) ** 2).mean())), 4),
        "specimenOffsetPx": {"dx": round(float(dx), 3), "dy": round(dy, 3), "dz": round(float(dz), 3)},
    }


def main():
    parser = argparse.ArgumentParser(description="compare embedded results with ground truth")
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("tomogram")
    t.add_argument("--recon", required=True)
    t.add_argument("--truth", required=True)
    t.add_argument("--lowpass", type=float, default=40.0)
    t.add_argument("--contrast", choices=["bright", "dark"], default="bright", help="dark: the tilt images show density dark")
    m = sub.add_parser("map")
    m.add_argument("--map", required=True)
    m.add_argument("--truth", required=True)
    m.add_argument("--mask-radius", type=float)
    m.add_argument("--model", choices=["blobs", "atoms"], default="blobs", help="the particle: blobs (make_dataset.py) or atoms (make_relion5_dataset.py)")
    a = sub.add_parser("alignment")
    a.add_argument("--truth", required=True)
    a.add_argument("--aln")
    a.add_argument("--star")
    a.add_argument("--apix", type=float, default=1.0, help="Å per pixel of the tilt series (for --star)")
    args = parser.parse_args()
    if args.what == "alignment" and not (args.aln or args.star):
        raise SystemExit("check_truth: alignment needs --aln FILE or --star FILE")
    checks = {"tomogram": check_tomogram, "map": check_map, "alignment": check_alignment}
    result = checks[args.what](args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
