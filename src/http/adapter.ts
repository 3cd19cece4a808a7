import { type Activity, CloudAdapter, type InvokeResponse, type TurnContext } from 'botbuilder';

/**
 * CloudAdapter for an activity http/intake.ts has already read and checked. Its own
 * `process(req, res)` is not used: it prints refused calls to stderr with their stack and
 * answers with the error's message, internal host names included.
 */
export class EdgeAdapter extends CloudAdapter {
  /** Authenticates (throws ActivityRejected from http/authentication.ts), then runs the turn. */
  handle(authHeader: string, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    return this.processActivity(authHeader, withDates(activity), logic);
  }
}

/** What CloudAdapter.process does to a parsed body: timestamps become Dates, the raw strings kept. */
function withDates(activity: Activity): Activity {
  const raw = activity as Activity & Record<string, unknown>;
  for (const field of ['timestamp', 'expiration', 'localTimestamp'] as const) {
    const value = raw[field];
    if (typeof value === 'string') {
      raw[`raw${field[0]!.toUpperCase()}${field.slice(1)}`] = value;
      raw[field] = new Date(value);
    }
  }
  return activity;
}
