/**
 * The one place that knows which Scorer is serving, or why none is. It is the readiness source for
 * GET /ready and what every consumer (HTTP, chat adapters, poller) scores through, so a model swap is a
 * single `set`. Never holds a stand-in: when no real model is loaded the slot is not ready and says why.
 */
import { unreadableReason } from './readable';
import type { Scorer } from './types';

/**
 * Where the serving model came from, when that is worth saying (the model registry sets it): `gcs` (the
 * bucket's version), `cache` (a version hydrated earlier, because the bucket could not give the one
 * wanted), `shipped` (the model in models/). `degraded` says why a fallback serves.
 */
export interface ModelOrigin {
  readonly source: 'gcs' | 'cache' | 'shipped';
  readonly path: string;
  readonly degraded?: string;
}

export type SlotState =
  | { readonly ready: true; readonly scorer: Scorer; readonly origin?: ModelOrigin }
  | { readonly ready: false; readonly reason: string };

export class ScorerSlot {
  private state: SlotState;

  constructor(initialReason = 'the model is still loading') {
    this.state = { ready: false, reason: initialReason };
  }

  /** The scorer serving now, or why there is none. */
  current(): SlotState {
    return this.state;
  }

  /** Serve with `scorer` from now on. Returns the previous scorer (the caller disposes it when its calls are done). */
  set(scorer: Scorer, origin?: ModelOrigin): Scorer | undefined {
    const previous = this.state.ready ? this.state.scorer : undefined;
    this.state = origin ? { ready: true, scorer, origin } : { ready: true, scorer };
    return previous;
  }

  /**
   * Scorer.unreadable of the serving scorer; while none serves, the model-free check (no word, emoticon
   * or emoji at all), so that a caller holding the slot (the trend monitor's hook) always gets an answer.
   */
  unreadable(text: string): string | null {
    return this.state.ready ? this.state.scorer.unreadable(text) : unreadableReason(text);
  }

  /** No scorer can serve, because of `reason` (shown by /ready and /predict). Returns the scorer it held, if any. */
  fail(reason: string): Scorer | undefined {
    const previous = this.state.ready ? this.state.scorer : undefined;
    this.state = { ready: false, reason };
    return previous;
  }
}
