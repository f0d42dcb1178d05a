import { MESSAGE_TYPES, type MessageType } from '../../protocol/messages.js';
import { isUpload } from '../../protocol/subjects.js';

/** The subjects of a run's uploads (`fedmkt.<run>.*.<slm-logits|adapter>.*`): what its JetStream stream holds. */
export function uploadSubjects(run: string): string[] {
  return MESSAGE_TYPES.filter(isUpload).map((type) => `fedmkt.${run}.*.${type}.*`);
}

/** Stream and consumer names allow letters, digits, `-` and `_`. */
export function nameToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The JetStream stream that holds a run's uploads. */
export function uploadStreamName(run: string): string {
  return `FEDMKT_${nameToken(run)}_UPLOADS`;
}

const TOKEN = /^[^\s.*>]+$/;

/** Why `subject` is not a valid NATS subject (or pattern, with `wildcards`), or undefined when it is. */
export function subjectProblem(subject: string, wildcards: boolean): string | undefined {
  if (subject.length === 0) return 'it is empty';
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (wildcards && token === '*') continue;
    if (wildcards && token === '>') {
      if (i !== tokens.length - 1) return "'>' may only be the last token";
      continue;
    }
    if (!TOKEN.test(token)) {
      return token.length === 0
        ? `token ${i + 1} is empty`
        : `token "${token}" contains ${wildcards ? 'whitespace or a misplaced wildcard' : 'whitespace or a wildcard (publish needs a literal subject)'}`;
    }
  }
  return undefined;
}

/** `fedmkt.<run>.r<round>.<slm-logits|adapter>.<client>`: a client's upload, acknowledged by the receiver. */
export function isUploadSubject(subject: string): boolean {
  const tokens = subject.split('.');
  if (tokens.length !== 5 || tokens[0] !== 'fedmkt' || !/^r\d+$/.test(tokens[2] as string)) return false;
  const type = tokens[3] as string;
  return (MESSAGE_TYPES as readonly string[]).includes(type) && isUpload(type as MessageType);
}

/** Whether some subject matches both NATS patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const p = a.split('.');
  const q = b.split('.');
  for (let i = 0; i < Math.min(p.length, q.length); i++) {
    const x = p[i] as string;
    const y = q[i] as string;
    if (x === '>' || y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
  return p.length === q.length;
}

/** Whether every subject matching `inner` also matches `outer`. */
export function patternWithin(inner: string, outer: string): boolean {
  const p = inner.split('.');
  const q = outer.split('.');
  for (let i = 0; i < q.length; i++) {
    const o = q[i] as string;
    if (o === '>') return p.length > i;
    const t = p[i];
    if (t === undefined || t === '>') return false;
    if (o === '*') continue;
    if (t !== o) return false;
  }
  return p.length === q.length;
}
