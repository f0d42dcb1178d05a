/**
 * Option parsers and options shared by the commands, so that a bad value is refused the same
 * way everywhere: by commander, naming the flag, as a usage error.
 */
import { InvalidArgumentError, Option } from 'commander';

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** `--backend tensorflow|wasm|cpu`. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend (default: the best available)').choices(['tensorflow', 'wasm', 'cpu']);
}
