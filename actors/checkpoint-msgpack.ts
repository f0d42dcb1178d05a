/**
 * msgpack for checkpoint files that hold typed arrays (a population's checkpoint, the server's
 * cached public logits): msgpackr's `moreTypes` keeps each array's type.
 */
import { Packr, Unpackr } from 'msgpackr';

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false, bundleStrings: false });
const unpackr = new Unpackr({ moreTypes: true, useRecords: false, structuredClone: false, mapsAsObjects: true });

export function packCheckpoint(value: unknown): Buffer {
  return packr.pack(value);
}

export function unpackCheckpoint(bytes: Buffer): unknown {
  return unpackr.unpack(bytes);
}
