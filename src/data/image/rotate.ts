/**
 * Square-image rotations by multiples of 90 degrees as gather tables, so rotating while copying costs one
 * indexed read per pixel.
 */

/**
 * The gather table that rotates a row-major `size x size` image counterclockwise by `quarterTurns * 90`
 * degrees (as `numpy.rot90` and Pillow's `rotate`): `rotated[p] = image[table[p]]`.
 */
export function rotationTable(size: number, quarterTurns: number): Int32Array {
  const r = ((quarterTurns % 4) + 4) % 4;
  const n = size - 1;
  const table = new Int32Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let si: number;
      let sj: number;
      if (r === 0) [si, sj] = [i, j];
      else if (r === 1) [si, sj] = [j, n - i];
      else if (r === 2) [si, sj] = [n - i, n - j];
      else [si, sj] = [n - j, i];
      table[i * size + j] = si * size + sj;
    }
  }
  return table;
}

/** The four gather tables for 0, 90, 180 and 270 degrees. */
export function rotationTables(size: number): [Int32Array, Int32Array, Int32Array, Int32Array] {
  return [rotationTable(size, 0), rotationTable(size, 1), rotationTable(size, 2), rotationTable(size, 3)];
}
