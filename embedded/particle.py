"""The synthetic particle of the embedded dataset: a chiral C6 hexamer of Gaussian blobs.

Two rings of six blobs at different radii and heights, the outer ring turned 20 degrees
against the inner one (so the particle has a hand: its mirror image is no rotation of it),
and one blob on the symmetry axis. Coordinates in Angstrom from the particle centre.
"""
import numpy as np

BLOB_SIGMA_A = 16.0
DIAMETER_A = 260.0


def blobs():
    """Rows of (x, y, z, amplitude) in Angstrom."""
    rows = []
    for k in range(6):
        a = np.deg2rad(60 * k)
        rows.append((60 * np.cos(a), 60 * np.sin(a), -30.0, 1.0))
        b = np.deg2rad(60 * k + 20)
        rows.append((105 * np.cos(b), 105 * np.sin(b), 25.0, 0.8))
    rows.append((0.0, 0.0, 55.0, 1.2))
    return np.array(rows)


def euler_matrix(rot, tilt, psi):
    """RELION's Euler_angles2matrix (ZYZ, degrees): a reference point b appears at A @ b."""
    a, b, g = np.deg2rad([rot, tilt, psi])
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array(
        [
            [cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
            [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
            [sc, ss, cb],
        ]
    )


def render(shape, centres_px, apix, sigma_a=BLOB_SIGMA_A, mirror=False, points=None):
    """A volume [nz, ny, nx] holding one particle per (x, y, z, A) in centres_px (voxels, A a 3x3
    rotation), each blob a Gaussian of sigma_a Angstrom. mirror=True renders the mirror image
    through the YZ plane, which contains the symmetry axis: same rings and heights, opposite
    twist between the rings (the enantiomer; no rotation turns it into the particle).
    points: rows of (x, y, z, amplitude) in Angstrom; default the blobs above."""
    volume = np.zeros(shape, dtype=np.float64)
    nz, ny, nx = shape
    sigma = sigma_a / apix
    reach = int(np.ceil(4 * sigma))
    points = blobs() if points is None else points
    if mirror:
        points = points * np.array([-1, 1, 1, 1])
    for x0, y0, z0, rotation in centres_px:
        for bx, by, bz, amp in points:
            p = np.array([x0, y0, z0]) + rotation @ (np.array([bx, by, bz]) / apix)
            lo = np.maximum(np.floor(p).astype(int) - reach, 0)
            hi = np.minimum(np.floor(p).astype(int) + reach + 1, [nx, ny, nz])
            if np.any(hi <= lo):
                continue
            zz, yy, xx = np.meshgrid(
                np.arange(lo[2], hi[2]), np.arange(lo[1], hi[1]), np.arange(lo[0], hi[0]), indexing="ij"
            )
            r2 = (xx - p[0]) ** 2 + (yy - p[1]) ** 2 + (zz - p[2]) ** 2
            volume[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] += amp * np.exp(-r2 / (2 * sigma**2))
    return volume.astype(np.float32)


def z_rotation(degrees):
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def render_box(box, apix, mirror=False, turn=0.0, model="blobs"):
    """The particle alone, centred at index box // 2 of a box^3 volume (RELION's centre),
    turned by `turn` degrees about its symmetry axis. model: "blobs" (above) or "atoms"
    (particle_atoms.py, the RELION 5 dataset's particle)."""
    c = box // 2
    if model == "atoms":
        from particle_atoms import SIGMA_A, atoms

        return render((box, box, box), [(c, c, c, z_rotation(turn))], apix, SIGMA_A, mirror, atoms())
    return render((box, box, box), [(c, c, c, z_rotation(turn))], apix, mirror=mirror)


def lowpass(volume, apix, resolution_a):
    """Fourier low-pass with a raised-cosine edge, at resolution_a Angstrom (any box shape)."""
    freqs = [np.fft.fftfreq(n) / apix for n in volume.shape]  # 1/Angstrom per axis
    fz, fy, fx = np.meshgrid(*freqs, indexing="ij")
    radius = np.sqrt(fx**2 + fy**2 + fz**2)
    cut, width = 1.0 / resolution_a, 1.0 / (max(volume.shape) * apix)
    weight = np.clip(0.5 - 0.5 * np.sin(np.pi * (radius - cut) / width), 0, 1)
    weight[radius < cut - width / 2] = 1.0
    weight[radius > cut + width / 2] = 0.0
    return np.real(np.fft.ifftn(np.fft.fftn(volume) * weight)).astype(np.float32)
