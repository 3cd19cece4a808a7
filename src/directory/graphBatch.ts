// Microsoft Graph JSON batching (learn.microsoft.com/graph/json-batching): up to 20 requests in
// one POST /$batch. Item urls are relative to the version ("/users/{id}", never
// "/v1.0/users/{id}"); a body needs a Content-Type header and advanced-query headers such as
// ConsistencyLevel go in the item's headers. The batch answers 200 with one status per item,
// and "requests in a batch are evaluated individually against the applicable throttling limits":
// a throttled item is a 429 inside a 200, which no SDK retry handler ever sees. So throttled
// items are retried here, only them, briefly (a short Retry-After, a couple of times); a longer
// wait is left to the caller, which reports it as `throttled` to the outbox that owns pacing.

import { z } from 'zod';
import { headerValue, parseRetryAfter } from './graphErrors';

export const BATCH_LIMIT = 20;

export interface BatchRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the version: "/users/{id}/checkMemberGroups". */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface BatchResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface BatchRetryPolicy {
  /** How many times throttled items are sent again. */
  maxRetries: number;
  /** The longest Retry-After worth waiting for here; longer ones go back to the caller as 429. */
  maxDelayMs: number;
  /** Wait used when a throttled item has no Retry-After. */
  defaultDelayMs: number;
  sleep(ms: number): Promise<void>;
}

export const DEFAULT_BATCH_RETRY: BatchRetryPolicy = {
  maxRetries: 2,
  maxDelayMs: 2_000,
  defaultDelayMs: 1_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const batchResponseSchema = z.object({
  responses: z.array(
    z.object({
      id: z.string(),
      status: z.number(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
    }),
  ),
});

/** Posts one $batch body and returns Graph's parsed JSON answer. */
export type BatchSender = (body: { requests: Array<Record<string, unknown>> }) => Promise<unknown>;

/**
 * Sends `requests` in batches of 20 and answers in the same order. Items still throttled after
 * the retries come back as their 429 response, for the caller to map.
 */
export async function sendBatch(send: BatchSender, requests: BatchRequest[], policy: BatchRetryPolicy = DEFAULT_BATCH_RETRY): Promise<BatchResponse[]> {
  const results: BatchResponse[] = new Array<BatchResponse>(requests.length);
  for (let start = 0; start < requests.length; start += BATCH_LIMIT) {
    let pending = range(start, Math.min(start + BATCH_LIMIT, requests.length));
    for (let attempt = 0; pending.length > 0; attempt++) {
      const answered = await sendOnce(send, requests, pending);
      for (const index of pending) results[index] = answered.get(index) ?? missingItem(index);
      const throttled = pending.filter((index) => results[index]?.status === 429);
      if (throttled.length === 0 || attempt >= policy.maxRetries) break;
      const delay = Math.max(...throttled.map((index) => retryAfterOf(results[index], policy.defaultDelayMs)));
      if (delay > policy.maxDelayMs) break;
      await policy.sleep(delay);
      pending = throttled;
    }
  }
  return results;
}

async function sendOnce(send: BatchSender, requests: BatchRequest[], indexes: number[]): Promise<Map<number, BatchResponse>> {
  const body = {
    requests: indexes.map((index) => {
      const request = requests[index] as BatchRequest;
      const headers = request.body === undefined ? request.headers : { 'Content-Type': 'application/json', ...request.headers };
      return {
        id: String(index),
        method: request.method,
        url: request.url,
        ...(headers ? { headers } : {}),
        ...(request.body === undefined ? {} : { body: request.body }),
      };
    }),
  };
  const parsed = batchResponseSchema.safeParse(await send(body));
  if (!parsed.success) throw new Error(`Graph answered $batch with an unexpected body: ${parsed.error.issues[0]?.message ?? ''}`);
  const answered = new Map<number, BatchResponse>();
  for (const response of parsed.data.responses) {
    answered.set(Number(response.id), { status: response.status, headers: response.headers ?? {}, body: response.body });
  }
  return answered;
}

function retryAfterOf(response: BatchResponse | undefined, fallback: number): number {
  return (response && parseRetryAfter(headerValue(response.headers, 'Retry-After'))) ?? fallback;
}

/** An item the batch did not answer: treated like a gateway error, so it is retried later. */
function missingItem(index: number): BatchResponse {
  return { status: 502, headers: {}, body: { error: { code: 'BatchItemMissing', message: `the $batch response has no answer for item ${index}` } } };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
