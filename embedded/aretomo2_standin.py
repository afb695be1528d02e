#!/usr/bin/python3
"""AreTomo2 STAND-IN for the embedded CPU profile (this machine has no GPU and no AreTomo2).

It is NOT AreTomo2. It accepts AreTomo2's command line, so the campaign builds one command
for both, and runs a real CPU weighted back-projection (numpy): read the MRC tilt stack and
the .rawtlt angles, ramp-filter each tilt image along X, back-project about the Y axis into a
volume of -VolZ / -OutBin slices, write it as MRC (with -FlipVol 1: Z is the slowest axis).
Alignment (-Patch) is not done: the embedded synthetic series are aligned by construction.
-Gpu and -OutImod are accepted and ignored; -Wbp 0 (SART) is refused.

The file is self-contained (numpy only) because the campaign stages it to the cluster as a
single executable, the way production stages the AreTomo2 binary. The MRC helpers below are
also imported by the dataset generator and the truth check.
"""
import struct
import sys
import time

import numpy as np

VERSION = "cryoet-embedded aretomo2-standin 1.0 (CPU weighted back-projection, not AreTomo2)"

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
    import os

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
        print("usage: -InMrc stack.mrc -OutMrc tomo.mrc -AngFile angles.rawtlt -VolZ N -OutBin B [-PixSize A] [-FlipVol 1] [-Wbp 1]")
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
    binned = bin_images(stack, out_bin)
    volume = back_project(ramp_filter(binned), angles, vol_z // out_bin)
    write_mrc(out_mrc, volume, apix * out_bin)
    nz, ny, nx = volume.shape
    print(f"wrote {out_mrc}: {nx} x {ny} x {nz} at {apix * out_bin:.3f} A/px from {len(angles)} tilts in {time.time() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, OSError) as e:
        print(f"aretomo2-standin: {e}", file=sys.stderr)
        sys.exit(1)
