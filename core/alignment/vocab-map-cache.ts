import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { minedVocabMap, type VocabMap, type VocabMapSide } from './mined.js';

/** Bump when normalisation or MinED semantics change: older cache files are then ignored. */
const VOCAB_MAP_FORMAT = 1;

export function defaultVocabMapCacheDir(cwd: string = process.cwd()): string {
  return join(cwd, '.cache', 'fedmkt', 'vocab-maps');
}

interface VocabMapFile {
  format: number;
  source: VocabMapSide;
  target: VocabMapSide;
  /** Little-endian Int32 arrays, base64. */
  targetOf: string;
  distance: string;
}

function side(tokenizer: Tokenizer): VocabMapSide {
  return { name: tokenizer.name, contentHash: tokenizer.contentHash, vocabSize: tokenizer.vocabSize };
}

/** Identical tokenizers (same content hash): every id maps to itself. */
function identityVocabMap(source: Tokenizer, target: Tokenizer): VocabMap {
  const targetOf = new Int32Array(source.vocabSize);
  for (let id = 0; id < targetOf.length; id++) targetOf[id] = id;
  return { source: side(source), target: side(target), targetOf, distance: new Int32Array(source.vocabSize) };
}

function toBase64(values: Int32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i] as number, true);
  return Buffer.from(bytes).toString('base64');
}

function fromBase64(text: string): Int32Array {
  const bytes = Buffer.from(text, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Int32Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < values.length; i++) values[i] = view.getInt32(i * 4, true);
  return values;
}

/**
 * MinED vocabulary maps on disk, keyed by both tokenizers' content hashes (names play no part:
 * `opt` reuses `gpt2`'s entry), and in memory for the process.
 */
export class VocabMapCache {
  private readonly memory = new Map<string, Promise<VocabMap>>();

  constructor(
    readonly dir: string = defaultVocabMapCacheDir(),
    private readonly compute: (source: Tokenizer, target: Tokenizer) => VocabMap = minedVocabMap,
  ) {}

  /** Cache file of the (source, target) direction. */
  fileFor(source: Tokenizer, target: Tokenizer): string {
    const key = createHash('sha256').update(`${VOCAB_MAP_FORMAT}\n${source.contentHash}\n${target.contentHash}`).digest('hex').slice(0, 32);
    return join(this.dir, `${key}.json`);
  }

  /** The map from `source` ids to `target` ids: from memory, disk, or computed and stored. */
  get(source: Tokenizer, target: Tokenizer): Promise<VocabMap> {
    if (source.contentHash === target.contentHash) return Promise.resolve(identityVocabMap(source, target));
    const file = this.fileFor(source, target);
    let pending = this.memory.get(file);
    if (!pending) {
      pending = this.load(file, source, target).then(async (stored) => {
        if (stored) return stored;
        const map = this.compute(source, target);
        await this.store(file, map);
        return map;
      });
      this.memory.set(file, pending);
      pending.catch(() => this.memory.delete(file));
    }
    return pending;
  }

  private async load(file: string, source: Tokenizer, target: Tokenizer): Promise<VocabMap | undefined> {
    let parsed: VocabMapFile;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as VocabMapFile;
    } catch {
      return undefined;
    }
    // A file that does not describe exactly this pair is stale or damaged: recompute it.
    if (
      parsed.format !== VOCAB_MAP_FORMAT ||
      parsed.source?.contentHash !== source.contentHash ||
      parsed.target?.contentHash !== target.contentHash ||
      typeof parsed.targetOf !== 'string' ||
      typeof parsed.distance !== 'string'
    ) {
      return undefined;
    }
    const targetOf = fromBase64(parsed.targetOf);
    const distance = fromBase64(parsed.distance);
    if (targetOf.length !== source.vocabSize || distance.length !== source.vocabSize) return undefined;
    return { source: side(source), target: side(target), targetOf, distance };
  }

  private async store(file: string, map: VocabMap): Promise<void> {
    const content: VocabMapFile = {
      format: VOCAB_MAP_FORMAT,
      source: map.source,
      target: map.target,
      targetOf: toBase64(map.targetOf),
      distance: toBase64(map.distance),
    };
    await mkdir(this.dir, { recursive: true });
    // Write then rename, so concurrent processes never read half a file.
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, JSON.stringify(content));
    await rename(temporary, file);
  }
}
