import type { CloudAdapter, TurnContext } from 'botbuilder';

// botbuilder's connector client runs on @azure/core-client, whose default pipeline retries
// 429 (sleeping for Retry-After, uncapped), 5xx and network errors up to three times inside
// the call. For proactive messages that is the wrong place: it holds the task runner (and
// every other task behind it) asleep, and hides throttling from the notifier's pacing. The
// outbox already retries durably, honouring Retry-After through the task's due time, so the
// notifier takes the in-process retry out of the connector client of its own turns.
//
// The client's pipeline is not public API, hence the defensive shape checks: if a botbuilder
// upgrade moves it, nothing breaks; calls merely get the SDK's retries back (a unit test
// notices, because it counts the HTTP calls a 502 causes).

const RETRY_POLICY_NAME = 'defaultRetryPolicy';

interface PolicyPipeline {
  removePolicy(options: { name?: string }): unknown[];
}

function isPipeline(value: unknown): value is PolicyPipeline {
  return typeof value === 'object' && value !== null && typeof (value as { removePolicy?: unknown }).removePolicy === 'function';
}

/** Removes the connector client's in-process retry for this turn; true when it was found. */
export function disableSdkRetries(context: TurnContext, adapter: CloudAdapter): boolean {
  const connector: unknown = context.turnState.get(adapter.ConnectorClientKey);
  const serviceClient: unknown = typeof connector === 'object' && connector !== null ? (connector as { client?: unknown }).client : undefined;
  const pipeline: unknown = typeof serviceClient === 'object' && serviceClient !== null ? (serviceClient as { pipeline?: unknown }).pipeline : undefined;
  if (!isPipeline(pipeline)) return false;
  pipeline.removePolicy({ name: RETRY_POLICY_NAME });
  return true;
}
