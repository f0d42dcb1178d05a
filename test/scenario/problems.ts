import { type LoadOptions, parseScenario, ScenarioError } from '../../core/scenario/load.js';

/** The problems parsing `text` reports, each as `<line or flag> <path>: <message>`; none when it parses. */
export function problems(text: string, options: LoadOptions = {}): string[] {
  try {
    parseScenario(text, 'x.yaml', options);
  } catch (error) {
    if (error instanceof ScenarioError) return error.problems.map((p) => `${p.flag ?? p.line ?? '?'} ${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}
