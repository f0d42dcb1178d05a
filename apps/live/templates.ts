/**
 * A population's clients by the template they drew, for the live view. The server's `selection`
 * event names each chosen client's template (`templates`, beside `clients`) and the `population`
 * event what each template is; runs recorded before selections named templates, and listed
 * clients, give no breakdown. O(1) per event (O(clients chosen) per selection); the breakdown is
 * O(clients seen).
 */
import { templateLabel } from '../../core/population/templates.js';
import type { LiveEvent, LiveSnapshot, TemplateRow } from './snapshot.js';

type Participation = Pick<TemplateRow, 'announced' | 'uploads' | 'stragglers' | 'dropouts'>;

const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);
const numbers = (v: unknown): number[] | null => (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0) ? (v as number[]) : null);

export class LiveTemplates {
  /** Client → the template it drew. */
  private readonly templateOf = new Map<string, number>();
  /** What each template is, from the `population` event. */
  private kinds: readonly string[] = [];
  /** The round of the latest selection, which the participation figures are of. */
  private round = 0;
  private participation = new Map<number, Participation>();
  /** Senders whose upload of the round was counted (a duplicate counts once). */
  private uploaded = new Set<string>();

  push(event: LiveEvent, kind: string): void {
    if (event.actor === 'server' && kind === 'population') this.kinds = strings(event.templates) ?? [];
    else if (event.actor === 'server' && kind === 'selection') this.selection(event);
    else if (event.round === this.round) this.participate(event, kind);
  }

  private selection(event: LiveEvent): void {
    const clients = strings(event.clients);
    const templates = numbers(event.templates);
    if (!clients || !templates || templates.length !== clients.length) return;
    this.round = event.round;
    this.participation = new Map();
    this.uploaded = new Set();
    for (const [k, id] of clients.entries()) {
      const template = templates[k]!;
      this.templateOf.set(id, template);
      this.tally(template).announced++;
    }
  }

  /** The current round's uploads, stragglers and dropouts, on the template of the client concerned. */
  private participate(event: LiveEvent, kind: string): void {
    if (kind === 'accepted' && event.actor === 'server' && event.message === 'slm-logits' && typeof event.sender === 'string') {
      if (this.uploaded.has(event.sender)) return;
      this.uploaded.add(event.sender);
      this.tallyOf(event.sender, (p) => p.uploads++);
    } else if (kind === 'stragglers' && event.actor === 'server') {
      for (const id of strings(event.clients) ?? []) this.tallyOf(id, (p) => p.stragglers++);
    } else if (kind === 'dropout') this.tallyOf(event.actor, (p) => p.dropouts++);
  }

  private tally(template: number): Participation {
    let p = this.participation.get(template);
    if (!p) this.participation.set(template, (p = { announced: 0, uploads: 0, stragglers: 0, dropouts: 0 }));
    return p;
  }

  private tallyOf(id: string, count: (p: Participation) => void): void {
    const template = this.templateOf.get(id);
    if (template !== undefined) count(this.tally(template));
  }

  /** Each template's clients per state (`stateOf`: a client's state key, as the snapshot counts it), and the round's participation. */
  breakdown(stateOf: (id: string) => string | null): LiveSnapshot['templates'] {
    if (this.templateOf.size === 0) return null;
    const rows = new Map<number, TemplateRow>();
    const row = (template: number): TemplateRow => {
      let r = rows.get(template);
      if (!r) {
        const p = this.participation.get(template);
        r = {
          template,
          label: templateLabel(template),
          kind: this.kinds[template] ?? null,
          clients: 0,
          counts: {},
          announced: p?.announced ?? 0,
          uploads: p?.uploads ?? 0,
          stragglers: p?.stragglers ?? 0,
          dropouts: p?.dropouts ?? 0,
        };
        rows.set(template, r);
      }
      return r;
    };
    // Every template the run has, drawn or not yet.
    for (const template of this.kinds.keys()) row(template);
    for (const [id, template] of this.templateOf) {
      const state = stateOf(id);
      if (state === null) continue;
      const r = row(template);
      r.clients++;
      r.counts[state] = (r.counts[state] ?? 0) + 1;
    }
    return { round: this.round, rows: [...rows.values()].sort((a, b) => a.template - b.template) };
  }
}
