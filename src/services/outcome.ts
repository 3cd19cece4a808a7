// What a service answers: a value, or a refusal a person can read. Refusals change nothing.

export type RefusalReason =
  | 'unknownUser'
  | 'notFound'
  | 'unavailable'
  | 'notEligible'
  | 'alreadyAssigned'
  | 'alreadyRequested'
  | 'separationOfDuties'
  | 'invalidInput'
  | 'notAllowed'
  | 'stale'
  | 'tooManyOpenRequests'
  /** Another change to the same person's access is being made at this moment (per-person claim). */
  | 'busy';

export interface Refusal {
  ok: false;
  reason: RefusalReason;
  message: string;
  /** Per-field problems, for forms. */
  fieldErrors?: { field: string; message: string }[];
  /** tooManyOpenRequests: the person's open requests and the limit (the presentation words them). */
  openRequests?: { open: number; limit: number };
}

export type Outcome<T> = ({ ok: true } & T) | Refusal;

export function refuse(reason: RefusalReason, message: string, fieldErrors?: Refusal['fieldErrors']): Refusal {
  return { ok: false, reason, message, ...(fieldErrors ? { fieldErrors } : {}) };
}

/** Ids arrive from card data: only short plain strings are ids. */
export function asId(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 && !value.startsWith('$') ? value : undefined;
}
