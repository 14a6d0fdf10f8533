// Owns: running one piece of upkeep every so often in a worker process, never two at once, and stopping it.
// Must not: decide what the upkeep does or whether it should run elsewhere (its owner takes a lock if it needs one).

import type { Logger } from '@conncheck/core';

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  /** `what` names the upkeep in the warning logged when a run fails (the next run retries). */
  constructor(
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly run: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.run()
        .catch((err: Error) => this.logger.warn({ err: err.message }, `${this.what} failed; will retry`))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
