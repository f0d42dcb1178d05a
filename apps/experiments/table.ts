/**
 * The experiment table: per method, mean and spread over seeds of each model's score, plus the
 * communication a federation measured. Rendered as Markdown and CSV; the JSON is the object itself.
 */
import { formatBytes } from '../../core/format.js';
import type { Communication } from './communication.js';
import type { MetricName } from './evaluate.js';
import type { MethodKind, MethodRun, MethodSpec, Setting } from './methods.js';

/** Mean and sample standard deviation (n - 1; 0 for a single value) over seeds. */
export interface Stat {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

export function stat(values: readonly number[]): Stat | null {
  const xs = values.filter((v) => Number.isFinite(v));
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, n: xs.length, values: [...xs] };
}

export interface MethodRow {
  method: string;
  label: string;
  kind: MethodKind;
  /** Mean over clients of each seed's client scores, then over seeds. */
  slm: Stat | null;
  slmNorm: Stat | null;
  clients: Record<string, Stat | null> | null;
  llm: Stat | null;
  llmNorm: Stat | null;
  /** Bytes per round and client, each way (federations and FedAvg). */
  upPerClient: Stat | null;
  downPerClient: Stat | null;
  /** Logit messages: measured bytes and the paper's N·L·K figures (federations). */
  slmLogitsBytes: Stat | null;
  llmLogitsBytes: Stat | null;
  slmFormula: Communication['slmFormula'] | null;
  llmFormula: Communication['llmFormula'] | null;
  llmLogitsMessages: number | null;
  wallSeconds: Stat | null;
  failures: number;
}

export interface ExperimentTable {
  setting: Setting;
  task: string;
  metric: MetricName;
  seeds: number[];
  rounds: number;
  baseFile: string;
  baseNote?: string;
  command?: string;
  clients: string[];
  methods: { id: string; label: string; kind: MethodKind; encoding?: string }[];
  rows: MethodRow[];
  runs: MethodRun[];
  hyperparameters: unknown;
  data: Record<number, unknown>;
  scenarios: Record<number, unknown>;
}

const meanOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function aggregate(methods: readonly MethodSpec[], runs: readonly MethodRun[], clients: readonly string[]): MethodRow[] {
  return methods.map((m) => {
    const rs = runs.filter((r) => r.method === m.id);
    const slmRuns = rs.filter((r) => r.slms && Object.keys(r.slms).length > 0);
    const perSeed = (pick: (s: NonNullable<MethodRun['slms']>[string]) => number | undefined) =>
      slmRuns.map((r) => meanOf(Object.values(r.slms!).map((s) => pick(s) ?? Number.NaN)));
    const comm = rs.map((r) => r.communication).filter((c): c is Communication => c !== undefined);
    const up = rs.map((r) => r.communication?.upPerClient ?? r.bytesPerRound?.upPerClient).filter((x): x is number => x !== undefined);
    const down = rs.map((r) => r.communication?.downPerClient ?? r.bytesPerRound?.downPerClient).filter((x): x is number => x !== undefined);
    return {
      method: m.id,
      label: m.label,
      kind: m.kind,
      slm: slmRuns.length ? stat(perSeed((s) => s.value)) : null,
      slmNorm: slmRuns.length ? stat(perSeed((s) => s.accNorm)) : null,
      clients: slmRuns.length ? Object.fromEntries(clients.map((c) => [c, stat(slmRuns.map((r) => r.slms![c]?.value ?? Number.NaN))])) : null,
      llm: stat(rs.map((r) => r.llm?.value ?? Number.NaN)),
      llmNorm: stat(rs.map((r) => r.llm?.accNorm ?? Number.NaN)),
      upPerClient: stat(up),
      downPerClient: stat(down),
      slmLogitsBytes: stat(comm.map((c) => c.slmLogitsBytes)),
      llmLogitsBytes: stat(comm.map((c) => c.llmLogitsBytes)),
      slmFormula: comm[0]?.slmFormula ?? null,
      llmFormula: comm[0]?.llmFormula ?? null,
      llmLogitsMessages: comm[0]?.llmLogitsMessages ?? null,
      wallSeconds: stat(rs.map((r) => r.wallSeconds)),
      failures: rs.filter((r) => r.failures).length,
    };
  });
}

function fmt(s: Stat | null, digits = 3): string {
  if (!s) return '—';
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

const bytesInColumn = (n: number) => formatBytes(n, { columns: true });

function bytes(s: Stat | null): string {
  return s ? bytesInColumn(s.mean) : '—';
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );
}

const METRIC_LABEL: Record<MetricName, string> = { acc: 'accuracy (acc)', rougeL: 'Rouge-L F' };

export function renderMarkdown(t: ExperimentTable): string {
  const out: string[] = [];
  const seeds = t.seeds.length > 1 ? `${t.seeds.length} seeds (${t.seeds.join(', ')}): mean ± sample std` : `seed ${t.seeds[0]}`;
  out.push(`# FedMKT ${t.setting}, task \`${t.task}\``, '');
  out.push(`${METRIC_LABEL[t.metric]} on held-out items, ${seeds}. Base scenario: \`${t.baseFile}\`${t.baseNote ? ` (${t.baseNote})` : ''}.`);
  if (t.command) out.push('', `Reproduce: \`${t.command}\``);
  out.push('');
  const f32 = t.rows.find((r) => r.method === 'fedmkt-f32');
  // Wall seconds stay in the CSV and JSON: they vary run to run, the Markdown does not.
  const header = ['Method', 'SLM (mean of clients)', ...t.clients, 'LLM', 'up / client / round', 'down / client / round'];
  out.push(
    mdTable(
      header,
      t.rows.map((r) => [
        r.label + (r.failures ? ` (${r.failures} run(s) with failures)` : ''),
        fmt(r.slm),
        ...t.clients.map((c) => fmt(r.clients?.[c] ?? null)),
        fmt(r.llm),
        bytes(r.upPerClient),
        bytes(r.downPerClient),
      ]),
    ),
  );
  if (t.metric === 'acc') {
    out.push('', '## acc_norm (log-likelihood per character of the choice, as lm-evaluation-harness)', '');
    out.push(
      mdTable(
        ['Method', 'SLM (mean of clients)', 'LLM'],
        t.rows.map((r) => [r.label, fmt(r.slmNorm), fmt(r.llmNorm)]),
      ),
    );
  }
  const feds = t.rows.filter((r) => r.slmFormula && r.llmFormula);
  if (feds.length) {
    out.push('', "## Communication per round, measured against the paper's N·L·K", '');
    out.push(
      'One logits message per client up and one broadcast down per round. N public samples, L mean tokens per sample in the sender\'s tokenisation, K top-K; "paper f32" counts N·L·K float32 values plus N·L·K int32 ids. Measured sizes are the encoded messages (ids, token ids, losses and envelope included).',
      '',
    );
    out.push(
      mdTable(
        [
          'Method',
          'N',
          'L (SLM / LLM)',
          'K',
          'N·L·K up',
          'up: measured',
          'paper f32',
          'measured / paper',
          'N·L·K down',
          'down: measured',
          'paper f32',
          'measured / paper',
          'vs FedMKT f32',
        ],
        feds.map((r) => {
          const s = r.slmFormula!;
          const l = r.llmFormula!;
          const up = r.slmLogitsBytes?.mean ?? Number.NaN;
          const down = r.llmLogitsBytes?.mean ?? Number.NaN;
          const base = f32?.slmLogitsBytes && f32.llmLogitsBytes ? f32.slmLogitsBytes.mean + f32.llmLogitsBytes.mean : Number.NaN;
          return [
            r.label,
            String(s.n),
            `${s.meanLength.toFixed(1)} / ${l.meanLength.toFixed(1)}`,
            String(s.k),
            Math.round(s.nlk).toLocaleString('en-US'),
            bytesInColumn(up),
            bytesInColumn(s.f32Bytes),
            (up / s.f32Bytes).toFixed(3),
            Math.round(l.nlk).toLocaleString('en-US'),
            bytesInColumn(down),
            bytesInColumn(l.f32Bytes),
            (down / l.f32Bytes).toFixed(3),
            Number.isFinite(base) ? ((up + down) / base).toFixed(3) : '—',
          ];
        }),
      ),
    );
    const frozen = t.rows.find((r) => r.kind === 'llm2slm');
    if (frozen?.llmLogitsMessages)
      out.push(
        '',
        `LLM2SLM: the frozen LLM's logits are identical every round; the server machine re-sends them each round (${frozen.llmLogitsMessages} broadcasts in the run), so sending them once would cut the downlink to 1/${t.rounds} of the figure above.`,
      );
  }
  out.push('', '## Hyperparameters', '', '```json', JSON.stringify(t.hyperparameters, null, 2), '```', '');
  return out.join('\n');
}

export function renderCsv(t: ExperimentTable): string {
  const cell = (s: Stat | null, key: 'mean' | 'std') => (s ? String(s[key]) : '');
  const header = [
    'setting',
    'task',
    'metric',
    'seeds',
    'method',
    'label',
    'slm_mean',
    'slm_std',
    ...t.clients.flatMap((c) => [`${c}_mean`, `${c}_std`]),
    'llm_mean',
    'llm_std',
    'slm_acc_norm_mean',
    'llm_acc_norm_mean',
    'up_bytes_per_client_round',
    'down_bytes_per_client_round',
    'slm_logits_bytes',
    'slm_nlk',
    'slm_paper_f32_bytes',
    'llm_logits_bytes',
    'llm_nlk',
    'llm_paper_f32_bytes',
    'wall_seconds_mean',
    'failed_runs',
  ];
  const rows = t.rows.map((r) => [
    t.setting,
    t.task,
    t.metric,
    t.seeds.join(' '),
    r.method,
    r.label,
    cell(r.slm, 'mean'),
    cell(r.slm, 'std'),
    ...t.clients.flatMap((c) => [cell(r.clients?.[c] ?? null, 'mean'), cell(r.clients?.[c] ?? null, 'std')]),
    cell(r.llm, 'mean'),
    cell(r.llm, 'std'),
    cell(r.slmNorm, 'mean'),
    cell(r.llmNorm, 'mean'),
    cell(r.upPerClient, 'mean'),
    cell(r.downPerClient, 'mean'),
    cell(r.slmLogitsBytes, 'mean'),
    r.slmFormula ? String(r.slmFormula.nlk) : '',
    r.slmFormula ? String(r.slmFormula.f32Bytes) : '',
    cell(r.llmLogitsBytes, 'mean'),
    r.llmFormula ? String(r.llmFormula.nlk) : '',
    r.llmFormula ? String(r.llmFormula.f32Bytes) : '',
    cell(r.wallSeconds, 'mean'),
    String(r.failures),
  ]);
  const esc = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return `${[header, ...rows].map((r) => r.map(esc).join(',')).join('\n')}\n`;
}
