import { renameSync, writeFileSync } from 'node:fs';

/**
 * Write `data` to `file` so that a process killed meanwhile leaves the old content or the new,
 * never part of it: written beside it, then renamed over it (atomic on POSIX file systems).
 */
export function replaceFile(file: string, data: Uint8Array | string): void {
  const partial = `${file}.partial`;
  writeFileSync(partial, data);
  renameSync(partial, file);
}
