// Time is injected everywhere so tests (and the scheduler's catch-up logic) can move it.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
