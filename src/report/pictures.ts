/**
 * The report's pictures section: the final map's central XY, XZ and YZ slices and max-Z
 * projection, then each tilt series' tomogram (central XY section, XZ slab), as inline PNG
 * `<img>`s. Pure: the PNGs come from src/pictures/.
 */
import type { Picture } from '../pictures/views.js';
import type { ReportPictures } from '../pictures/read.js';
import { esc } from './svg.js';

/** Smallest drawn side, CSS pixels: a 48-voxel map is shown enlarged (pixelated), not tiny. */
const MIN_SHOWN = 192;

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function img(id: string, label: string, p: Picture): string {
  const scale = Math.max(1, MIN_SHOWN / Math.max(p.width, p.height));
  const w = Math.round(p.width * scale);
  const h = Math.round(p.height * scale);
  return (
    `<figure class="picture"><img id="${esc(id)}" src="data:image/png;base64,${p.png}" width="${w}" height="${h}" ` +
    `alt="${esc(`${label}: ${p.view}`)}"><figcaption>${esc(p.view)} · ${p.width}×${p.height} px</figcaption></figure>`
  );
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function picturesSection(pictures: ReportPictures): string {
  const parts: string[] = [];
  if (pictures.map) {
    const ids = ['xy', 'xz', 'yz', 'maxz'];
    parts.push(`<h3>Final map · <code>${esc(baseName(pictures.map.file))}</code></h3>`);
    const images = pictures.map.pictures.map((p, i) => img(`map-${ids[i] ?? i}`, 'final map', p)).join('');
    parts.push(`<div class="pictures" id="map-pictures">${images}</div>`);
  }
  for (const ts of pictures.tiltSeries) {
    parts.push(`<h3>Tomogram ${esc(ts.name)} · <code>${esc(baseName(ts.file))}</code></h3>`);
    const ids = ['xy', 'xz'];
    const images = ts.pictures.map((p, i) => img(`tomo-${slug(ts.name)}-${ids[i] ?? i}`, ts.name, p)).join('');
    parts.push(`<div class="pictures tomogram-pictures">${images}</div>`);
  }
  if (pictures.notes.length > 0)
    parts.push(`<p class="no-data">Not drawn: ${pictures.notes.map((n) => esc(n)).join('; ')}.</p>`);
  if (parts.length === 0) parts.push('<p class="no-data">No pictures: the run record names no tomogram or map.</p>');
  return parts.join('\n');
}
