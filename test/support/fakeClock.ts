import type { Clock } from '../../src/clock';

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  private current: Date;

  constructor(start: Date | string = '2026-11-22T09:00:00Z') {
    this.current = new Date(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): Date {
    this.current = new Date(this.current.getTime() + ms);
    return this.now();
  }

  set(to: Date | string): void {
    this.current = new Date(to);
  }
}
