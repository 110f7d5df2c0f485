/** Items of varying length packed into blocks, for kernels that score a block per call. */

/** A block: its first item's index, each item's length in rows, and the items' values one after another. */
export interface Block {
  first: number;
  lens: number[];
  values: Float32Array;
}

/**
 * `rows` (each item's values, e.g. a document's [n, dim] vectors or one FDE) packed in order into
 * blocks of whole items of at most `maxValues` values (an item longer than that gets a block of its
 * own). lens: each item's length in rows, carried into its block.
 */
export function packBlocks(rows: readonly Float32Array[], lens: readonly number[], maxValues: number): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < rows.length; ) {
    const first = i;
    const bl: number[] = [];
    let size = 0;
    while (i < rows.length && (bl.length === 0 || size + (rows[i] as Float32Array).length <= maxValues)) {
      bl.push(lens[i] as number);
      size += (rows[i] as Float32Array).length;
      i++;
    }
    const values = new Float32Array(size);
    let o = 0;
    for (let j = first; j < i; j++) {
      values.set(rows[j] as Float32Array, o);
      o += (rows[j] as Float32Array).length;
    }
    out.push({ first, lens: bl, values });
  }
  return out;
}
