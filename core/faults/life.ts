/**
 * One incarnation of an actor: from its start (or restart) to its crash. Work it started keeps
 * running after a crash (a TF.js step cannot be interrupted), but nothing it produces reaches
 * the dead incarnation's continuations, and a restart waits until that work has settled.
 */
export class ActorLife {
  private dead = false;
  private readonly running = new Set<Promise<unknown>>();
  private readonly onKill: (() => void)[] = [];

  get alive(): boolean {
    return !this.dead;
  }

  /** Start real work only while alive, and remember it until it settles. */
  start<T>(work: () => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(new Error('the actor crashed before this work started'));
    const p = work();
    this.running.add(p);
    const forget = () => void this.running.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** `p` as this incarnation sees it: settled only while it is alive, never after its crash. */
  release<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      p.then(
        (value) => {
          if (!this.dead) resolve(value);
        },
        (error: unknown) => {
          if (!this.dead) reject(error);
        },
      );
    });
  }

  /** Called once, when the incarnation dies. */
  onKilled(fn: () => void): void {
    this.onKill.push(fn);
  }

  /** Mark dead, run the kill callbacks, and wait for work already running to settle. */
  async kill(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    for (const fn of this.onKill) fn();
    await Promise.allSettled([...this.running]);
  }
}
