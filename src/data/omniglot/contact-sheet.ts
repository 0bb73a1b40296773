/**
 * A contact sheet: a PNG grid of prepared characters, for eyeballing that preprocessing went right.
 */
import { PNG } from 'pngjs';
import { IMAGE_SIZE } from './constants.js';
import type { OmniglotImages } from './reader.js';

/** Layout of {@link renderContactSheet}. */
export interface ContactSheetOptions {
  /** Tiles per row (default 10). */
  columns?: number;
  /** Integer upscaling of each tile (default 2). */
  scale?: number;
  /** Gap between tiles in output pixels (default 2). */
  gap?: number;
}

/**
 * Renders the given rows as a grid, dark ink on white as a reader would expect to see it.
 *
 * @returns PNG file bytes.
 */
export function renderContactSheet(
  images: OmniglotImages,
  rows: readonly number[],
  options: ContactSheetOptions = {},
): Buffer {
  const columns = Math.max(1, Math.min(options.columns ?? 10, rows.length || 1));
  const scale = options.scale ?? 2;
  const gap = options.gap ?? 2;
  const tile = IMAGE_SIZE * scale;
  const gridRows = Math.max(1, Math.ceil(rows.length / columns));
  const width = columns * tile + (columns + 1) * gap;
  const height = gridRows * tile + (gridRows + 1) * gap;
  const png = new PNG({ width, height, colorType: 0 });
  png.data.fill(255);
  rows.forEach((row, i) => {
    const pixels = images.image(row);
    const x0 = gap + (i % columns) * (tile + gap);
    const y0 = gap + Math.floor(i / columns) * (tile + gap);
    for (let y = 0; y < tile; y++) {
      for (let x = 0; x < tile; x++) {
        const v = 255 - pixels[Math.floor(y / scale) * IMAGE_SIZE + Math.floor(x / scale)]!;
        const o = ((y0 + y) * width + x0 + x) * 4;
        png.data[o] = v;
        png.data[o + 1] = v;
        png.data[o + 2] = v;
        png.data[o + 3] = 255;
      }
    }
  });
  return PNG.sync.write(png, { colorType: 0 });
}
