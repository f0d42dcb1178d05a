/** The round, actor and message panels of the live page, redrawn from each snapshot. */
import type { ActorRow, CollectionProgress, LiveSnapshot, MessageRow } from '../snapshot.js';
import { $, el, kindBadge, replaceBody } from './dom.js';
import { bytes, colourOfState, dur, messageColour } from './format.js';

/** What the panels need besides the snapshot: the clock, and the focused actor. */
export interface PanelContext {
  /** Event time now. */
  now: number;
  focus: string | null;
  setFocus(id: string, quiet?: boolean): void;
  /** The focused actor's row, when this snapshot has it. */
  focusRowSeen(row: ActorRow): void;
}

export function renderRound(s: LiveSnapshot, now: number): void {
  $('round-no').textContent = s.round > 0 ? String(s.round) : '–';
  const c = s.collection;
  const up = $('uploads');
  const dl = $('deadline');
  if (!c) {
    $('phase').textContent = s.events ? 'no collection yet' : 'waiting for the server…';
    up.hidden = true;
    dl.hidden = true;
    $('outcome').textContent = '';
  } else {
    up.hidden = false;
    dl.hidden = false;
    $('phase').textContent = `${c.open ? 'collecting ' : 'collected '}${c.message} (server in ${c.open ? c.state : `round ${c.round} ${c.state}, now closed`})`;
    showUploads(up, c);
    showDeadline(dl, c, now, s.clock);
    $('outcome').textContent = c.outcome ? `quorum: ${c.outcome}` : '';
  }
  replaceBody(
    $('rounds', HTMLTableElement),
    s.rounds
      .slice()
      .reverse()
      .map((r) =>
        el('tr', null, [
          el('td', { text: String(r.round) }),
          el('td', { text: dur(r.startedAt) }),
          el('td', { text: r.endedAt === null ? '…' : dur(r.endedAt - r.startedAt) }),
          el('td', { text: r.announced === null ? String(r.uploads) : `${r.uploads} of ${r.announced}` }),
          el('td', { text: r.outcome || '' }),
          el('td', { text: String(r.messages) }),
          el('td', { text: r.faults ? String(r.faults) : '' }),
        ]),
      ),
  );
}

function part(meter: HTMLElement, selector: string): HTMLElement {
  const found = meter.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`live page: no ${selector} in #${meter.id}`);
  return found;
}

function showUploads(up: HTMLElement, c: CollectionProgress): void {
  const n = Math.max(1, c.expected);
  part(up, '.fill').style.width = `${Math.min(100, (100 * c.received) / n)}%`;
  const mark = part(up, '.mark');
  if (c.needed) {
    mark.style.display = 'block';
    mark.style.left = `${Math.min(100, (100 * c.needed) / n)}%`;
  } else mark.style.display = 'none';
  up.classList.toggle('met', c.needed !== null && c.received >= c.needed);
  part(up, '.label').textContent =
    `uploads ${c.received} of ${c.expected}${c.needed ? ` · quorum ${c.needed}` : ''}${c.ignored ? ` · ${c.ignored} ignored` : ''}`;
}

function showDeadline(dl: HTMLElement, c: CollectionProgress, now: number, clock: LiveSnapshot['clock']): void {
  const label = part(dl, '.label');
  const fill = part(dl, '.fill');
  if (c.deadlineAt === null) {
    fill.style.width = '0';
    label.textContent = 'no deadline known';
    dl.classList.remove('late');
    return;
  }
  const at = c.open ? now : (c.closedAt ?? 0);
  const left = c.deadlineAt - at;
  fill.style.width = `${Math.max(0, Math.min(100, (100 * (at - c.openedAt)) / Math.max(1, c.deadlineMs ?? 0)))}%`;
  dl.classList.toggle('late', left <= 0 || c.deadlineFired);
  label.textContent = c.open
    ? left > 0
      ? `${dur(left)} left to the deadline (${dur(c.deadlineMs)}, ${clock === 'wall' ? 'wall' : 'virtual'} time)`
      : 'deadline passed'
    : `closed after ${dur((c.closedAt ?? 0) - c.openedAt)}${c.deadlineFired ? ' (deadline)' : ''} of a ${dur(c.deadlineMs)} deadline`;
}

export function renderActors(s: LiveSnapshot, ctx: PanelContext): void {
  const a = s.actors;
  $('actor-count').textContent = `${a.total} (${a.clients} clients)`;
  showStateCounts(s.counts.client, a.clients);
  showTemplates(s.templates);
  const note = $('sample-note');
  note.hidden = a.detailed;
  if (!a.detailed)
    note.textContent = `${a.total} actors: the bar above counts the clients per state; the table shows ${a.rows.length} of them (the server, the first clients, and actors with recent faults). Type an id to focus any actor.`;
  const list = $('focus-list');
  if (list.childNodes.length !== a.rows.length) {
    list.textContent = '';
    for (const r of a.rows) list.appendChild(el('option', { value: r.id }));
  }
  replaceBody(
    $('actors', HTMLTableElement),
    a.rows.map((r) => actorRow(r, ctx)),
  );
  if (ctx.focus === null) {
    const first = a.rows.find((r) => r.role === 'client');
    if (first) ctx.setFocus(first.id, true);
  }
  if (ctx.focus !== null) {
    const row = a.rows.find((r) => r.id === ctx.focus);
    if (row) ctx.focusRowSeen(row);
  }
}

/** The stacked bar and legend of clients per state, most occupied first. */
function showStateCounts(counts: Record<string, number>, clients: number): void {
  const states = Object.keys(counts).sort((x, y) => (counts[y] ?? 0) - (counts[x] ?? 0));
  const stack = part($('counts'), '.stack');
  const legend = part($('counts'), '.legend');
  stack.textContent = '';
  legend.textContent = '';
  for (const st of states) {
    const n = counts[st] ?? 0;
    const share = (100 * n) / Math.max(1, clients);
    stack.appendChild(el('span', { style: `width:${share}%;background:${colourOfState(st)}`, title: `${st}: ${n}` }));
    legend.appendChild(
      el('li', { 'data-state': st, 'data-count': String(n) }, [el('span', { cls: 'sw', style: `background:${colourOfState(st)}` }), `${st} ${n}`]),
    );
  }
}

const PARTICIPATION = ['announced', 'uploads', 'stragglers', 'dropouts'] as const;

/** A population's clients by template: a row each, its clients per state now (the bar's states, most occupied first), then the round's participation. */
function showTemplates(t: LiveSnapshot['templates']): void {
  const box = $('by-template');
  box.hidden = t === null;
  if (!t) return;
  const totals: Record<string, number> = {};
  for (const r of t.rows) for (const [st, n] of Object.entries(r.counts)) totals[st] = (totals[st] ?? 0) + n;
  const states = Object.keys(totals).sort((x, y) => (totals[y] ?? 0) - (totals[x] ?? 0) || x.localeCompare(y));
  $('template-round').textContent = `clients per state now; round ${t.round}: ${PARTICIPATION.join(', ')}`;
  const table = $('templates', HTMLTableElement);
  table.tHead?.replaceChildren(
    el('tr', null, [
      el('th', { text: 'template' }),
      el('th', { text: 'clients' }),
      ...states.map((st) => el('th', { 'data-state': st }, [el('span', { cls: 'sw', style: `background:${colourOfState(st)}` }), ...breakable(st)])),
      ...PARTICIPATION.map((p) => el('th', { text: p })),
    ]),
  );
  replaceBody(
    table,
    t.rows.map((r) =>
      el('tr', { 'data-template': String(r.template) }, [
        el('td', null, [r.label, r.kind ? el('span', { cls: 'muted', text: r.kind }) : null]),
        el('td', { text: String(r.clients) }),
        ...states.map((st) => el('td', { 'data-state': st, 'data-count': String(r.counts[st] ?? 0), text: r.counts[st] ? String(r.counts[st]) : '' })),
        ...PARTICIPATION.map((p) => el('td', { 'data-part': p, text: String(r[p]) })),
      ]),
    ),
  );
}

/** A state name that may wrap where its words meet (`await|LLM|Logits`): a narrow column per state. */
function breakable(name: string): (string | HTMLElement)[] {
  return name.split(/(?<=[a-z.])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/).flatMap((part, i) => (i === 0 ? [part] : [el('wbr'), part]));
}

function actorRow(r: ActorRow, ctx: PanelContext): HTMLElement {
  const now = ctx.now;
  const st = r.down ? `offline (${r.down} at ${r.state})` : r.state;
  const tr = el('tr', { 'data-actor': r.id, 'data-state': r.state, cls: (r.id === ctx.focus ? 'focus ' : '') + (r.down ? 'down' : '') }, [
    el('td', null, [r.role === 'server' ? el('b', { text: r.id }) : r.id]),
    el('td', { text: String(r.round) }),
    el('td', null, [el('span', { cls: 'sw', style: `background:${colourOfState(r.down ? 'offline' : r.state)}` }), st]),
    el('td', { text: r.state === 'starting' ? '' : dur(now - r.since) }),
    el('td', { text: r.deadlineAt === null ? '' : r.deadlineAt - now > 0 ? `${dur(r.deadlineAt - now)} left` : 'passed' }),
    el('td', { text: String(r.sent) }),
    el('td', { text: String(r.received) }),
    el('td', { text: r.faults ? `${r.faults} (${r.lastFault})` : '' }),
  ]);
  tr.addEventListener('click', () => ctx.setFocus(r.id));
  return tr;
}

const MARK_GLYPH: Record<string, string> = { delay: 'delayed', duplicate: 'duplicated', again: 'delivered again', reorder: 'reordered', corrupt: 'corrupted' };
const NOT_FAULTS = ['send', 'deliver', 'state', 'accepted', 'selected', 'alignment', 'selection', 'population'];

export function renderMessages(s: LiveSnapshot): void {
  const kinds = $('kinds');
  kinds.textContent = '';
  for (const k of Object.keys(s.byKind).sort()) {
    const fault = !NOT_FAULTS.includes(k);
    kinds.appendChild(el('span', { cls: `chip${fault ? ' fault' : ''}`, 'data-kind': k, text: `${k} ${(s.byKind[k] ?? 0).toLocaleString('en')}` }));
  }
  replaceBody($('messages', HTMLTableElement), s.messages.slice().reverse().map(messageRow));
  replaceBody(
    $('faults', HTMLTableElement),
    s.faults
      .slice()
      .reverse()
      .map((m) =>
        el('tr', { 'data-kind': m.kind }, [
          el('td', { text: dur(m.t) }),
          el('td', null, [kindBadge(m.kind)]),
          el('td', { text: m.type }),
          el('td', { text: m.from === m.to ? m.to : `${m.from} → ${m.to}` }),
          el('td', { text: m.note }),
        ]),
      ),
  );
}

function messageRow(m: MessageRow): HTMLElement {
  const marks = m.marks.map((k) => el('span', { cls: `k mk ${k === 'again' ? 'again' : k}`, text: MARK_GLYPH[k] || k }));
  return el('tr', { 'data-kind': m.kind, 'data-marks': m.marks.join(' ') }, [
    el('td', { text: dur(m.t) }),
    el('td', null, [kindBadge(m.kind)]),
    el('td', null, [el('span', { cls: 'sw', style: `background:${messageColour(m.type)}` }), m.type]),
    el('td', { text: `${m.from} → ${m.to === '*' ? 'all clients' : m.to}` }),
    el('td', { text: bytes(m.bytes) }),
    el('td', null, m.note ? [...marks, m.note] : marks),
  ]);
}
