/**
 * Machines supplied with their work once, actors created many times. Building a machine with
 * `provide` costs about a millisecond, and exploration creates thousands of actors; so each
 * machine definition is provided once with implementations that find the running actor's own
 * work through its actor system (one system per top-level actor).
 */
export class WorkBinding<TWork> {
  private readonly bySystem = new WeakMap<object, TWork>();
  private readonly provided = new WeakMap<object, unknown>();

  constructor(private readonly role: string) {}

  /** The work of the actor whose system this is. */
  of(system: object): TWork {
    const work = this.bySystem.get(system);
    if (!work)
      throw new Error(
        `${this.role} machine: this actor's work was never bound (create it with create${this.role[0]!.toUpperCase()}${this.role.slice(1)}Actor)`,
      );
    return work;
  }

  bind(actor: { system: object }, work: TWork): void {
    this.bySystem.set(actor.system, work);
  }

  /** `machine` provided by `supply`, once per machine definition. */
  machine<M extends object>(machine: M, supply: (machine: M) => M): M {
    let m = this.provided.get(machine) as M | undefined;
    if (!m) this.provided.set(machine, (m = supply(machine)));
    return m;
  }
}
