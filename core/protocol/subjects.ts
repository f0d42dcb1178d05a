import type { ActorId, MessageType } from './messages.js';

/**
 * The subject scheme, shared by every transport (in-memory and NATS):
 *
 *   fedmkt.<run>.r<round>.slm-logits.<client>    client -> server   (step 2 upload)
 *   fedmkt.<run>.r<round>.adapter.<client>       client -> server   (FedAvg upload)
 *   fedmkt.<run>.r<round>.llm-logits             server -> clients  (step 6 broadcast)
 *   fedmkt.<run>.r<round>.round-start            server -> clients
 *   fedmkt.<run>.r<round>.round-start.<client>   server -> one client of a population (selected)
 *   fedmkt.<run>.r<round>.adapter-average        server -> clients
 *   fedmkt.<run>.r<round>.finish                 server -> clients
 *   fedmkt.<run>.r<round>.finish-ack.<client>    client -> server   (receipt of finish)
 *   fedmkt.<run>.events.<actor>                  any -> observers   (monitoring)
 *   fedmkt.<run>.population.<part>               server -> a process hosting part of a population
 *   fedmkt.<run>.population-reply.<part>         that process -> server
 *
 * A client publishes only on subjects ending in its own id; the server only on broadcast
 * subjects. NATS permissions (one credential per actor) are derived from exactly this table.
 */

/** Data a client uploads: acknowledged by the receiving side over NATS. */
const UPLOAD_TYPES = new Set<MessageType>(['slm-logits', 'adapter']);
/** Everything a client sends; its subjects end in the client's id. The server sends the rest. */
const CLIENT_TYPES: readonly MessageType[] = ['slm-logits', 'adapter', 'finish-ack'];
const SERVER_TYPES: readonly MessageType[] = ['llm-logits', 'round-start', 'adapter-average', 'finish'];

export function isUpload(type: MessageType): boolean {
  return UPLOAD_TYPES.has(type);
}

/** Whether clients (not the server) send this type. */
export function isFromClient(type: MessageType): boolean {
  return CLIENT_TYPES.includes(type);
}

/** `to`: the one client a server message is addressed to (a population's round announcement). */
export function messageSubject(run: string, round: number, type: MessageType, sender: ActorId, to?: ActorId): string {
  if (to !== undefined) return `fedmkt.${run}.r${round}.${type}.${to}`;
  return isFromClient(type) ? `fedmkt.${run}.r${round}.${type}.${sender}` : `fedmkt.${run}.r${round}.${type}`;
}

/** Server messages addressed to one client (`*`: to any). */
function addressedSubjects(run: string, client: ActorId): string[] {
  return [`fedmkt.${run}.*.round-start.${client}`];
}

/**
 * What a population's client selected for `round` subscribes to: its announcement, the broadcasts
 * of that round, and the finish (of whichever round the run ends in). Another round's broadcast is
 * nothing to a client that lives for one round; one still on its way as the client is brought up
 * would reach it in one run and not in its resumed copy.
 */
export function populationClientInbox(run: string, client: ActorId, round: number): string[] {
  const ofTheRound = SERVER_TYPES.filter((t) => t !== 'round-start' && t !== 'finish').map((t) => messageSubject(run, round, t, 'server'));
  return [...ofTheRound, broadcastsOf(run, 'finish'), ...addressedSubjects(run, client)];
}

/** The subjects `client` publishes its messages on (`*` for any client). */
export function clientSubjects(run: string, client: ActorId): string[] {
  return CLIENT_TYPES.map((t) => `fedmkt.${run}.*.${t}.${client}`);
}

/** What the server subscribes to: every client message of every round. */
export function serverInbox(run: string): string[] {
  return clientSubjects(run, '*');
}

/** The server's broadcasts of `type`, in every round. */
export function broadcastsOf(run: string, type: MessageType): string {
  return `fedmkt.${run}.*.${type}`;
}

/** What a client subscribes to: every broadcast of every round. */
export function clientInbox(run: string): string[] {
  return SERVER_TYPES.map((t) => broadcastsOf(run, t));
}

/** Requests to the process hosting part `part` of a population (`*`: any part), and its replies. */
export function populationSubjects(run: string, part: number | '*'): { request: string; reply: string } {
  return { request: `fedmkt.${run}.population.${part}`, reply: `fedmkt.${run}.population-reply.${part}` };
}

export function eventsSubject(run: string, actor: ActorId): string {
  return `fedmkt.${run}.events.${actor}`;
}

/** NATS-style match: `*` matches one token, `>` the rest (only as the last token). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}
