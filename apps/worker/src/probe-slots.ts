// Owns: how many probes this worker runs at once (CONNCHECK_WORKER_CONCURRENCY), shared by every job's items.
// Must not: know about jobs, items or Redis; check-worker.ts decides who asks for a slot and when.

/**
 * A counting semaphore over probe slots. A job asks for up to as many slots as it has items and gets what is free,
 * at least one (waiting for it when none is), so a job's items run side by side while the worker never runs more
 * probes than it has slots.
 */
export class ProbeSlots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  /** `onChange` hears every change of the free count (the worker scales how many jobs it fetches with it). */
  constructor(
    readonly size: number,
    private readonly onChange: () => void = () => undefined,
  ) {}

  get free(): number {
    return Math.max(0, this.size - this.used);
  }

  /** Takes up to `wanted` slots: all that are free, at least one (waiting for one when none is). */
  async take(wanted: number): Promise<number> {
    let got = 0;
    if (this.free === 0) {
      // give() hands a freed slot straight to the longest waiter, so nobody can take it in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      got = 1;
    }
    const more = Math.min(wanted - got, this.free);
    this.used += more;
    got += more;
    this.onChange();
    return got;
  }

  /** Takes up to `wanted` free slots without waiting (none while a job waits for one: it comes first). */
  tryTake(wanted: number): number {
    if (this.waiting.length > 0) return 0;
    const got = Math.min(wanted, this.free);
    if (got > 0) {
      this.used += got;
      this.onChange();
    }
    return got;
  }

  give(n: number): void {
    this.used -= n;
    while (this.free > 0 && this.waiting.length > 0) {
      this.used++;
      this.waiting.shift()!();
    }
    this.onChange();
  }
}
