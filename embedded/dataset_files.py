"""What both synthetic-dataset generators (make_dataset.py, make_relion5_dataset.py) and the
truth check share: particle placement, STAR tables, atomic text writes and a soft sphere."""
import os

import numpy as np


def place_particles(rng, shape, count, margin_xy, margin_z, min_distance, attempts, who):
    """`count` centres [x, y, z] (voxels) at least `min_distance` apart, inside the margins,
    and a uniformly random orientation (rot, tilt, psi in degrees) for each."""
    nz, ny, nx = shape
    centres = []
    for _ in range(attempts):
        if len(centres) == count:
            break
        c = np.array([rng.integers(margin_xy, nx - margin_xy), rng.integers(margin_xy, ny - margin_xy), rng.integers(margin_z, nz - margin_z)])
        if all(np.linalg.norm(c - o) >= min_distance for o in centres):
            centres.append(c)
    if len(centres) < count:
        raise SystemExit(f"{who}: only {len(centres)} of {count} particles fit {nx}x{ny}x{nz} at {min_distance} px apart")
    angles = [(rng.uniform(0, 360), np.rad2deg(np.arccos(rng.uniform(-1, 1))), rng.uniform(0, 360)) for _ in centres]
    return centres, angles


def star_loop(block, columns, rows):
    """One STAR loop table `data_<block>` (RELION writes `data_` for an unnamed one)."""
    lines = ["", f"data_{block}", "", "loop_"] + [f"_{name} #{i + 1}" for i, name in enumerate(columns)]
    lines += [" ".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_text(path, text):
    """Writes via a temporary file and a rename, so a reader never sees half a file."""
    with open(f"{path}.tmp", "w") as f:
        f.write(text)
    os.replace(f"{path}.tmp", path)


def soft_sphere(n, radius, edge=2.0):
    """1 inside `radius` voxels of the box centre (index n // 2), a raised-cosine edge, 0 beyond."""
    c = n // 2
    z, y, x = np.meshgrid(*(np.arange(n) - c,) * 3, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    return np.clip(0.5 + 0.5 * np.cos(np.pi * np.clip(r - radius, 0, edge) / edge), 0, 1) * (r <= radius + edge)
