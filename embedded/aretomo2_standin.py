#!/usr/bin/python3
"""AreTomo2 STAND-IN for the embedded CPU profile (this machine has no GPU and no AreTomo2).

It is NOT AreTomo2. It accepts AreTomo2's command line, so the campaign builds one command
for both, and does real work on CPU (numpy), from the images alone:
- global alignment (-Align 1, the default) when -TiltAxis A is given: the tilt axis, searched
  within A +-10° (fixed with -TiltAxis A -1) by the common line (every tilt's projection onto the axis is the
  same; AreTomo2's CommonLine/ does the same), then per-tilt shifts, first by stretching
  each tilt to its neighbour and cross-correlating, then by projection matching (reconstruct,
  reproject without the tilt itself, cross-correlate; AreTomo2's ProjAlign/), three rounds;
- a weighted back-projection of the aligned images (ramp filter along X, back-projection about
  Y) into -VolZ / -OutBin slices, written as MRC (with -FlipVol 1: Z is the slowest axis);
- AreTomo2's alignment files: <InMrc name>.aln beside -OutMrc and, with -OutImod 1, the IMOD
  folder <InMrc name>_Imod/ (_st.xf, _st.tlt, _st.xtilt, _st_order_list.csv; not newst.com or
  tilt.com), in AreTomo2 1.1.2's formats.
Then the specimen is centred in Z (the one translation the images leave open). Measured on
make_relion5_dataset.py's five series (axis 84.3°, shifts up to 6 px, 10 gold beads, snr 0.5,
-TiltAxis 85): tilt axis within 0.03-0.28° of the truth, shifts 0.05-0.21 px RMS (after the
specimen translation no alignment can know), 17-20 s a series on one core. Without the gold
the common line is too weak at this signal-to-noise (16 small particles): 0.5-11° off.
Not done: local (-Patch) alignment, tilt-offset search, dark-frame removal, CTF. -Gpu is
accepted and ignored; -Wbp 0 (SART) is refused.

The file is self-contained (numpy only) because the campaign stages it to the cluster as a
single executable, the way production stages the AreTomo2 binary. The MRC helpers below are
also imported by the dataset generator and the truth check.
"""
import os
import struct
import sys
import time

import numpy as np

VERSION = "cryoet-embedded aretomo2-standin 1.1 (CPU alignment and weighted back-projection, not AreTomo2)"

MRC_MODES = {0: np.int8, 1: np.int16, 2: np.float32, 6: np.uint16, 12: np.float16}


def read_mrc(path):
    """Returns (array[nz, ny, nx] float32, voxel size in Angstrom). Raises ValueError naming the file."""
    with open(path, "rb") as f:
        header = f.read(1024)
        if len(header) < 1024:
            raise ValueError(f"{path}: MRC header truncated ({len(header)} of 1024 bytes)")
        nx, ny, nz, mode = struct.unpack("<4i", header[0:16])
        mx = struct.unpack("<i", header[28:32])[0]
        cella_x = struct.unpack("<f", header[40:44])[0]
        nsymbt = struct.unpack("<i", header[92:96])[0]
        if header[208:212] != b"MAP ":
            raise ValueError(f"{path}: not an MRC file (no 'MAP ' at byte 208)")
        if mode not in MRC_MODES or min(nx, ny, nz) < 1:
            raise ValueError(f"{path}: unsupported MRC header (nx={nx} ny={ny} nz={nz} mode={mode})")
        f.seek(1024 + nsymbt)
        dtype = np.dtype(MRC_MODES[mode]).newbyteorder("<")
        count = nx * ny * nz
        data = np.fromfile(f, dtype=dtype, count=count)
        if data.size != count:
            raise ValueError(f"{path}: MRC data truncated ({data.size} of {count} voxels)")
    apix = cella_x / mx if mx > 0 else 1.0
    return data.reshape(nz, ny, nx).astype(np.float32), float(apix)


def write_mrc(path, data, apix, is_stack=False):
    """Writes float32 MRC 2014 with the voxel size in the header, atomically (tmp + rename)."""
    data = np.ascontiguousarray(data, dtype="<f4")
    if data.ndim == 2:
        data = data[None]
    nz, ny, nx = data.shape
    header = bytearray(1024)
    struct.pack_into("<10i", header, 0, nx, ny, nz, 2, 0, 0, 0, nx, ny, nz)
    struct.pack_into("<6f", header, 40, nx * apix, ny * apix, nz * apix, 90.0, 90.0, 90.0)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    struct.pack_into("<3f", header, 76, float(data.min()), float(data.max()), float(data.mean()))
    struct.pack_into("<i", header, 88, 0 if is_stack else 1)  # ispg: 0 image stack, 1 volume
    struct.pack_into("<i", header, 104, 20140)  # nversion
    header[208:212] = b"MAP "
    header[212:216] = bytes([0x44, 0x44, 0, 0])
    struct.pack_into("<f", header, 216, float(data.std()))
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(data.tobytes())
    except OSError as e:
        # A write error (disk full, quota) names no file by itself: say which, leave no half file.
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise OSError(e.errno, f"cannot write {os.path.abspath(path)}: {e.strerror}") from e
    os.replace(tmp, path)


def read_rawtlt(path):
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    try:
        return np.array([float(line.split()[0]) for line in lines])
    except ValueError as e:
        raise ValueError(f"{path}: expected one tilt angle (degrees) per line: {e}") from None


def bin_images(stack, factor):
    if factor == 1:
        return stack
    n, ny, nx = stack.shape
    ny2, nx2 = ny // factor, nx // factor
    cropped = stack[:, : ny2 * factor, : nx2 * factor]
    return cropped.reshape(n, ny2, factor, nx2, factor).mean(axis=(2, 4))


def ramp_filter(stack):
    """Ram-Lak ramp along X with a cosine roll-off, on each tilt image (zero-padded 2x)."""
    n, ny, nx = stack.shape
    pad = 2 * nx
    freqs = np.fft.rfftfreq(pad)
    weight = np.abs(freqs) * 2.0 * (0.5 + 0.5 * np.cos(np.pi * freqs / 0.5))
    spectrum = np.fft.rfft(stack - stack.mean(axis=2, keepdims=True), n=pad, axis=2)
    return np.fft.irfft(spectrum * weight, n=pad, axis=2)[:, :, :nx]


def back_project(filtered, angles_deg, nz_out):
    """Weighted back-projection about Y. A voxel at (x, z) from the centre was imaged at
    u = x cos(t) + z sin(t) on the tilt-t image (the projector of the dataset generator)."""
    n, ny, nx = filtered.shape
    volume = np.zeros((nz_out, ny, nx), dtype=np.float64)
    xs = np.arange(nx) - nx // 2
    zs = np.arange(nz_out) - nz_out // 2
    for image, angle in zip(filtered, np.deg2rad(angles_deg)):
        for iz, z in enumerate(zs):
            u = xs * np.cos(angle) + z * np.sin(angle) + nx // 2
            i0 = np.floor(u).astype(int)
            w = u - i0
            ok = (i0 >= 0) & (i0 + 1 < nx)
            i0c = np.clip(i0, 0, nx - 2)
            row = image[:, i0c] * (1 - w) + image[:, i0c + 1] * w
            volume[iz] += np.where(ok, row, 0.0)
    return (volume * (np.pi / (2 * n))).astype(np.float32)


# --- Alignment (-Align 1, the default): the tilt axis and per-tilt shifts, from the images ---
#
# Geometry (RELION 5's, src/jaz/tomography/tomogram.cpp, and what RELION's AreTomo2 import
# reads out of the .aln file): a specimen point x lands on tilt f's image at
#   p = Rz(ROT) Ry(TILT_f) (x - centre) + image centre + (TX_f, TY_f)   [pixels of -InMrc]
# so the aligned image of tilt f, with the tilt axis along Y, is A_f(q) = I_f(R(ROT) q + c + T_f).


def bandpass(stack, low_px=40.0, high_px=5.0):
    """Gaussian band-pass on each image: keeps features between high_px and low_px pixels."""
    n, ny, nx = stack.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(ny), np.fft.rfftfreq(nx), indexing="ij")
    k2 = fx**2 + fy**2
    weight = np.exp(-k2 * (np.pi * high_px) ** 2 / 2) * (1 - np.exp(-k2 * (np.pi * low_px) ** 2 / 2))
    return np.fft.irfft2(np.fft.rfft2(stack) * weight, s=(ny, nx))


def aligned_image(image, rot_deg, shift, out_shape=None):
    """A(q) = I(R(rot) q + c + shift), bilinear; outside the image is 0 (images are zero-mean)."""
    ny, nx = image.shape
    oy, ox = out_shape or image.shape
    qy, qx = np.meshgrid(np.arange(oy) - oy // 2, np.arange(ox) - ox // 2, indexing="ij")
    r = np.deg2rad(rot_deg)
    px = np.cos(r) * qx - np.sin(r) * qy + nx // 2 + shift[0]
    py = np.sin(r) * qx + np.cos(r) * qy + ny // 2 + shift[1]
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    wx, wy = px - x0, py - y0
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < nx) & (y0 + 1 < ny)
    x0, y0 = np.clip(x0, 0, nx - 2), np.clip(y0, 0, ny - 2)
    value = (image[y0, x0] * (1 - wx) * (1 - wy) + image[y0, x0 + 1] * wx * (1 - wy)
             + image[y0 + 1, x0] * (1 - wx) * wy + image[y0 + 1, x0 + 1] * wx * wy)
    return np.where(inside, value, 0.0)


def peak_1d(values):
    """Index of the maximum, refined by a parabola through it and its neighbours."""
    i = int(np.argmax(values))
    if 0 < i < len(values) - 1:
        a, b, c = values[i - 1], values[i], values[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return i + 0.5 * (a - c) / denom
    return float(i)


def xcorr_shift_2d(moving, reference, max_shift):
    """(dx, dy) that moves `moving` onto `reference` (sub-pixel), searched within max_shift px."""
    cc = np.real(np.fft.ifft2(np.fft.fft2(reference) * np.conj(np.fft.fft2(moving))))
    cc = np.fft.fftshift(cc)
    ny, nx = cc.shape
    cy, cx = ny // 2, nx // 2
    window = cc[cy - max_shift: cy + max_shift + 1, cx - max_shift: cx + max_shift + 1]
    iy, ix = np.unravel_index(int(np.argmax(window)), window.shape)
    dy = peak_1d(window[:, ix]) if 0 < iy < window.shape[0] - 1 else float(iy)
    dx = peak_1d(window[iy, :]) if 0 < ix < window.shape[1] - 1 else float(ix)
    return dx - max_shift, dy - max_shift


def xcorr_shift_1d(moving, reference, max_shift):
    cc = np.fft.fftshift(np.real(np.fft.ifft(np.fft.fft(reference) * np.conj(np.fft.fft(moving)))))
    c = len(cc) // 2
    return peak_1d(cc[c - max_shift: c + max_shift + 1]) - max_shift


def axis_window(ny, nx, rot_lo, rot_hi, edge=8.0):
    """A soft box in the aligned frame, wide across the axis, that stays inside the image at
    every angle searched: the specimen moves across the axis with the tilt, never along it,
    so nothing enters or leaves the box's sides as the angle changes (the image corners do)."""
    for scale in np.arange(1.0, 0.3, -0.01):
        half_x, half_y = scale * 0.48 * nx, scale * 0.40 * ny
        corners = [(half_x, half_y), (half_x, -half_y)]
        fits = all(abs(rotate_vec(c, r)[0]) < nx / 2 - 2 and abs(rotate_vec(c, r)[1]) < ny / 2 - 2
                   for r in np.linspace(rot_lo, rot_hi, 9) for c in corners)
        if fits:
            break
    qy, qx = np.meshgrid(np.arange(ny) - ny // 2, np.arange(nx) - nx // 2, indexing="ij")
    return np.clip((half_x - np.abs(qx)) / edge, 0, 1) * np.clip((half_y - np.abs(qy)) / edge, 0, 1)


def axis_profiles(stack, rot_deg, window, shifts):
    """Each tilt's aligned image summed across the tilt axis: the projection of the specimen
    onto the axis, the same for every tilt (a common line), moved by the tilt's shift error only."""
    profiles = np.array([(aligned_image(image, rot_deg, s) * window).sum(axis=1) for image, s in zip(stack, shifts)])
    profiles -= profiles.mean(axis=1, keepdims=True)
    return profiles / (np.linalg.norm(profiles, axis=1, keepdims=True) + 1e-12)


def fourier_shift_1d(values, shift):
    k = np.fft.fftfreq(len(values))
    return np.real(np.fft.ifft(np.fft.fft(values) * np.exp(-2j * np.pi * k * shift)))


def profile_score(stack, rot_deg, window, max_shift, shifts):
    """How alike the tilts' axis profiles are at this axis angle, after aligning them along Y
    (sub-pixel)."""
    profiles = axis_profiles(stack, rot_deg, window, shifts)
    reference = profiles.mean(axis=0)
    for _ in range(3):
        shifts = [xcorr_shift_1d(p, reference, max_shift) for p in profiles]
        moved = np.array([fourier_shift_1d(p, s) for p, s in zip(profiles, shifts)])
        reference = moved.mean(axis=0)
    return float(np.mean(moved @ reference) / (np.linalg.norm(reference) + 1e-12)), np.array(shifts)


def find_tilt_axis(stack, nominal, search, step=0.5, shifts=None):
    """The axis angle whose axis profiles agree best: a coarse scan, then a finer one, then a
    parabola through the best three. With `shifts` (image frame, px) the images are first
    moved by them, so nothing crosses the window's edges along the axis either."""
    if search == 0:
        return nominal
    shifts = np.zeros((len(stack), 2)) if shifts is None else shifts
    window = axis_window(stack.shape[1], stack.shape[2], nominal - search, nominal + search)
    max_shift = stack.shape[1] // 8
    best = nominal
    for span, st in ((search, step), (2 * step, step / 5)):
        angles = np.arange(best - span, best + span + 1e-9, st)
        scores = [profile_score(stack, a, window, max_shift, shifts)[0] for a in angles]
        best = float(angles[0] + st * peak_1d(np.array(scores)))
    return best


def stretch_x(image, factor):
    """Stretches an aligned image perpendicular to the tilt axis (about the centre) by `factor`."""
    ny, nx = image.shape
    x = (np.arange(nx) - nx // 2) / factor + nx // 2
    x0 = np.clip(np.floor(x).astype(int), 0, nx - 2)
    w = x - x0
    inside = (x >= 0) & (x <= nx - 1)
    return np.where(inside, image[:, x0] * (1 - w) + image[:, x0 + 1] * w, 0.0)


def coarse_shifts(stack, angles, rot, max_shift):
    """Shifts in the aligned frame, tilt by tilt outwards from the zero tilt: each image
    stretched to its neighbour's tilt and cross-correlated with it (the zero tilt is 0, 0)."""
    n = len(angles)
    zero = int(np.argmin(np.abs(angles)))
    t = np.zeros((n, 2))
    for order in (range(zero + 1, n), range(zero - 1, -1, -1)):
        for g in order:
            f = g - 1 if g > zero else g + 1
            ref = aligned_image(stack[f], rot, rotate_vec(t[f], rot))
            moving = stretch_x(aligned_image(stack[g], rot, rotate_vec(t[f], rot)),
                               np.cos(np.deg2rad(angles[f])) / np.cos(np.deg2rad(angles[g])))
            dx, dy = xcorr_shift_2d(moving, ref, max_shift)
            t[g] = t[f] - np.array([dx * np.cos(np.deg2rad(angles[g])) / np.cos(np.deg2rad(angles[f])), dy])
    return t


def rotate_vec(v, rot_deg):
    r = np.deg2rad(rot_deg)
    return np.array([np.cos(r) * v[0] - np.sin(r) * v[1], np.sin(r) * v[0] + np.cos(r) * v[1]])


def reproject(volume, angle_deg):
    """Projection of a (nz, ny, nx) volume at a tilt about Y (the model of one tilt image):
    each image column u sums the volume along its ray, x = (u - z sin t) / cos t."""
    nz, ny, nx = volume.shape
    a = np.deg2rad(angle_deg)
    us = np.arange(nx) - nx // 2
    out = np.zeros((ny, nx))
    for iz, z in enumerate(np.arange(nz) - nz // 2):
        x = (us - z * np.sin(a)) / np.cos(a) + nx // 2
        x0 = np.clip(np.floor(x).astype(int), 0, nx - 2)
        w = x - x0
        ok = (x >= 0) & (x <= nx - 1)
        out += np.where(ok, volume[iz][:, x0] * (1 - w) + volume[iz][:, x0 + 1] * w, 0.0)
    return out / np.cos(a)


def projection_matching(stack, angles, rot, t, nz, max_shift, rounds=3):
    """Refines the shifts: reconstruct from all tilts, reproject each tilt without its own
    contribution, cross-correlate, move; the zero tilt stays the origin."""
    n = len(angles)
    zero = int(np.argmin(np.abs(angles)))
    for _ in range(rounds):
        aligned = np.array([aligned_image(im, rot, rotate_vec(t[f], rot)) for f, im in enumerate(stack)])
        filtered = ramp_filter(aligned)
        volume = back_project(filtered, angles, nz)
        own = np.pi / (2 * n)
        corrections = np.zeros((n, 2))
        for f in range(n):
            single = back_project(filtered[f:f + 1], angles[f:f + 1], nz) * (own / (np.pi / 2))
            model = reproject(volume - single, angles[f])
            corrections[f] = xcorr_shift_2d(aligned[f], model, max_shift)
        t = t - corrections
        t -= t[zero]
    return t


def centre_specimen(stack, angles, rot, t, vol_z):
    """Moves the specimen to the middle of the volume in Z, which no shift between images can
    say: reconstruct twice as thick, take the slab as the slices holding more than a third of
    the strongest slice's variance, and shift every tilt by its centre's offset x sin(tilt)."""
    aligned = np.array([aligned_image(im, rot, rotate_vec(v, rot)) for im, v in zip(stack, t)])
    volume = back_project(ramp_filter(aligned), angles, 2 * vol_z)
    power = (volume**2).mean(axis=(1, 2))
    floor = np.median(power)
    slab = np.nonzero(power > floor + (power.max() - floor) / 3)[0]
    offset = (slab[0] + slab[-1]) / 2 - volume.shape[0] // 2
    moved = t.copy()
    moved[:, 0] += offset * np.sin(np.deg2rad(angles))
    return moved, float(offset)


def align(stack, angles, nominal_axis, search, vol_z):
    """(tilt axis in degrees, shifts [n, 2] in pixels of the stack, in RELION's image frame)."""
    filtered = bandpass(stack - stack.mean(axis=(1, 2), keepdims=True))
    rot = find_tilt_axis(filtered, nominal_axis, search)
    max_shift = max(4, stack.shape[2] // 12)
    t = coarse_shifts(filtered, angles, rot, max_shift)
    if search > 0:
        # Once more, with the shifts: the profiles' ends then hold the same specimen at every tilt.
        shifts = np.array([rotate_vec(v, rot) for v in t])
        rot = find_tilt_axis(filtered, rot, min(search, 2.0), step=0.25, shifts=shifts)
        t = np.array([rotate_vec(v, -rot) for v in shifts])
    t = projection_matching(filtered, angles, rot, t, vol_z, max_shift)
    t, _ = centre_specimen(filtered, angles, rot, t, vol_z)
    return rot, np.array([rotate_vec(v, rot) for v in t])


def aln_text(raw_shape, rot, shifts, angles):
    """AreTomo2 1.1.2's .aln (MrcUtil/CSaveAlnFile.cpp): header, then one row per tilt in
    tilt order: SEC ROT GMAG TX TY SMEAN SFIT SCALE BASE TILT (TX, TY in pixels of -InMrc)."""
    nz, ny, nx = raw_shape
    lines = ["# AreTomo Alignment / Priims bprmMn ", f"# RawSize = {nx} {ny} {nz}", "# NumPatches = 0",
             "# SEC     ROT         GMAG       TX          TY      SMEAN     SFIT    SCALE     BASE     TILT"]
    for sec in np.argsort(angles, kind="stable"):
        lines.append("%5d  %9.4f  %9.5f  %9.3f  %9.3f  %7.2f  %7.2f  %7.2f  %7.2f  %8.2f"
                     % (sec, rot, 1.0, shifts[sec][0], shifts[sec][1], 1.0, 1.0, 1.0, 0.0, angles[sec]))
    return "\n".join(lines) + "\n"


def imod_files(prefix, rot, shifts, angles):
    """-OutImod 1 (ImodUtil/): <prefix>_st.xf, _st.tlt, _st.xtilt, _st_order_list.csv, one line
    per section of -InMrc. .xf is IMOD's raw-to-aligned transform: A = R(-ROT), D = A (-T)."""
    r = np.deg2rad(-rot)
    a11, a12, a21, a22 = np.cos(r), -np.sin(r), np.sin(r), np.cos(r)
    xf = ["%9.3f %9.3f %9.3f %9.3f %9.2f %9.2f" % (a11, a12, a21, a22, a11 * -sx + a12 * -sy, a21 * -sx + a22 * -sy)
          for sx, sy in shifts]
    order = np.argsort([(abs(a), -a) for a in angles], axis=0)
    return {f"{prefix}_st.xf": "\n".join(xf) + "\n",
            f"{prefix}_st.tlt": "".join("%8.2f\n" % a for a in angles),
            f"{prefix}_st.xtilt": "".join("0\n" for _ in angles),
            f"{prefix}_st_order_list.csv": "ImageNumber,TiltAngle\n" + "".join("%4d,%.2f\n" % (i + 1, a) for i, a in enumerate(angles))}


def write_text(path, text):
    try:
        with open(f"{path}.tmp", "w") as f:
            f.write(text)
    except OSError:
        if os.path.exists(f"{path}.tmp"):
            os.remove(f"{path}.tmp")
        raise
    os.replace(f"{path}.tmp", path)


def alignment_paths(in_mrc, out_mrc):
    """Where AreTomo2 writes its alignment: the .aln beside -OutMrc, named for -InMrc
    (CSaveAlnFile::DoIt), and the IMOD folder <out folder>/<in name>_Imod/ (CImodUtil)."""
    folder = os.path.dirname(out_mrc)
    stem = os.path.basename(in_mrc)
    stem = stem[: stem.index(".mrc")] if ".mrc" in stem else stem
    name = os.path.splitext(os.path.basename(in_mrc))[0]
    return os.path.join(folder, stem + ".aln"), os.path.join(folder, name + "_Imod"), name


def parse_args(argv):
    """AreTomo2's flags: -Name value [value ...]."""
    options, key = {}, None
    for arg in argv:
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            key = arg[1:]
            options[key] = []
        elif key is None:
            raise SystemExit(f"aretomo2-standin: unexpected argument {arg!r}; flags look like -InMrc TS_01.mrc")
        else:
            options[key].append(arg)
    return options


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "--version", "-Version"):
        print(VERSION)
        print("usage: -InMrc stack.mrc -OutMrc tomo.mrc -AngFile angles.rawtlt -VolZ N -OutBin B [-PixSize A] [-FlipVol 1] [-Wbp 1]"
              " [-TiltAxis A [-1]] [-Align 1] [-OutImod 1]")
        return 0
    opts = parse_args(argv)

    def one(name, default=None, cast=str):
        values = opts.get(name)
        if not values:
            if default is None:
                raise SystemExit(f"aretomo2-standin: -{name} is required")
            return default
        return cast(values[0])

    in_mrc, out_mrc, ang_file = one("InMrc"), one("OutMrc"), one("AngFile")
    vol_z, out_bin = one("VolZ", cast=int), one("OutBin", 1, int)
    if one("Wbp", 1, int) != 1:
        raise SystemExit("aretomo2-standin: only -Wbp 1 (weighted back-projection) is implemented")
    if one("FlipVol", 1, int) != 1:
        raise SystemExit("aretomo2-standin: only -FlipVol 1 (Z slowest) output is implemented")
    print(VERSION, flush=True)
    started = time.time()
    stack, header_apix = read_mrc(in_mrc)
    apix = one("PixSize", header_apix, float)
    angles = read_rawtlt(ang_file)
    if len(angles) != stack.shape[0]:
        raise SystemExit(f"aretomo2-standin: {ang_file} has {len(angles)} angles but {in_mrc} has {stack.shape[0]} images")
    if vol_z < out_bin or out_bin < 1:
        raise SystemExit(f"aretomo2-standin: -VolZ {vol_z} / -OutBin {out_bin} leaves no slices")
    axis = [float(v) for v in opts.get("TiltAxis", ["0"])]
    if one("Align", 1, int) == 1 and axis[0] != 0:
        search = 0.0 if len(axis) > 1 and axis[1] < 0 else 10.0
        rot, shifts = align(stack, angles, axis[0], search, vol_z)
        print(f"aligned: tilt axis {rot:.2f}°, shifts up to {np.abs(shifts).max():.1f} px ({time.time() - started:.1f} s)", flush=True)
    else:
        # Unlike AreTomo2, which searches the whole half-turn when no -TiltAxis is given, the
        # stand-in then takes the series as aligned (the embedded profile's datasets are).
        rot, shifts = axis[0], np.zeros((len(angles), 2))
        print("alignment: none (no -TiltAxis given; the series is taken as aligned)", flush=True)
    aligned = stack if rot == 0 and not shifts.any() else np.array([aligned_image(im, rot, s) for im, s in zip(stack, shifts)])
    binned = bin_images(aligned, out_bin)
    volume = back_project(ramp_filter(binned), angles, vol_z // out_bin)
    write_mrc(out_mrc, volume, apix * out_bin)
    # The alignment files after the tomogram: a failed write leaves nothing behind it.
    aln, imod_dir, name = alignment_paths(in_mrc, out_mrc)
    write_text(aln, aln_text(stack.shape, rot, shifts, angles))
    if one("OutImod", 0, int) == 1:
        os.makedirs(imod_dir, exist_ok=True)
        for file, text in imod_files(name, rot, shifts, angles).items():
            write_text(os.path.join(imod_dir, file), text)
    nz, ny, nx = volume.shape
    print(f"wrote {out_mrc}: {nx} x {ny} x {nz} at {apix * out_bin:.3f} A/px from {len(angles)} tilts in {time.time() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, OSError) as e:
        print(f"aretomo2-standin: {e}", file=sys.stderr)
        sys.exit(1)
