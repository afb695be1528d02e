"""The RELION 5 dataset's particle: a chiral C6 hexamer of pseudo-atoms, with detail at a
few pixels (not only smooth blobs), so a Guinier fit over the refined map's shells has
something to fit.

Each of the six subunits is the same set of 120 Gaussian pseudo-atoms of sigma SIGMA_A,
drawn once from a fixed seed: an inner domain (radius 35 Angstrom from the axis, 20 below the
equator) and an outer one turned 20 degrees against it (radius 58, 18 above), plus four atoms
of a cap on the axis. The subunit is a random, hence chiral, cloud, and the domains' twist
gives the particle a hand visible at low resolution too. Coordinates in Angstrom from the
particle centre; the symmetry axis is z.
"""
import numpy as np

SIGMA_A = 3.5
DIAMETER_A = 170.0
SEED = 6


def _domain(rng, count, centre, radii):
    points = []
    while len(points) < count:
        p = rng.uniform(-1, 1, 3)
        if (p**2).sum() <= 1:
            points.append(np.asarray(centre) + p * np.asarray(radii))
    return np.array(points)


def atoms():
    """Rows of (x, y, z, amplitude) in Angstrom: 6 x 124 pseudo-atoms."""
    rng = np.random.default_rng(SEED)
    inner = _domain(rng, 60, (35.0, 0.0, -20.0), (12.0, 10.0, 14.0))
    b = np.deg2rad(20.0)
    outer = _domain(rng, 60, (58.0 * np.cos(b), 58.0 * np.sin(b), 18.0), (10.0, 10.0, 10.0))
    cap = _domain(rng, 4, (6.0, 0.0, 42.0), (4.0, 4.0, 4.0))
    unit = np.vstack([inner, outer, cap])
    amplitude = rng.uniform(0.6, 1.2, len(unit))
    rows = []
    for k in range(6):
        a = np.deg2rad(60.0 * k)
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        rows.append(np.column_stack([unit @ rz.T, amplitude]))
    return np.vstack(rows)
