// How Microsoft Graph's failures become the port's DirectoryError kinds (port.ts).
//
// Graph answers errors with {"error":{"code","message","innerError":{"date","request-id",...}}}
// (learn.microsoft.com/graph/errors); the graph-client SDK turns that into a GraphError with
// statusCode, code, message and the response headers. Throttling is 429 with Retry-After in
// seconds (learn.microsoft.com/graph/throttling). Directory objects answer a missing object with
// 404 Request_ResourceNotFound and a refused permission with 403 Authorization_RequestDenied
// "Insufficient privileges to complete the operation." (seen in the Graph docs' batch example).
// Items of a $batch carry the same body shape under their own status (graph/json-batching).

import { GraphClientError, GraphError } from '@microsoft/microsoft-graph-client';
import { DirectoryError } from './port';

/** One failed Graph call, from a direct request or from one item of a $batch. */
export interface GraphFailure {
  /** HTTP status; -1 when there was no response at all (network, DNS, timeout). */
  status: number;
  code?: string;
  message: string;
  retryAfterMs?: number;
}

/** What was being done, for messages an admin can act on. */
export interface FailureContext {
  /** e.g. "add user 'u-1' to group 'g-1' as member". */
  action: string;
  /** The application permission(s) this call needs, named when Graph refuses it. */
  permission: string;
}

/**
 * The failure behind anything a Graph call threw, or the DirectoryError itself when the
 * credential already classified it (see graphClient.ts: token failures travel as a
 * GraphClientError so the SDK passes them through untouched).
 */
export function failureOf(error: unknown): GraphFailure | DirectoryError {
  if (error instanceof DirectoryError) return error;
  if (error instanceof GraphClientError && error.customError instanceof DirectoryError) return error.customError;
  if (error instanceof GraphError) {
    return {
      status: error.statusCode,
      code: error.code ?? undefined,
      message: error.message || String(error.body ?? ''),
      retryAfterMs: parseRetryAfter(error.headers?.get('Retry-After') ?? undefined),
    };
  }
  return { status: -1, message: error instanceof Error ? error.message : String(error) };
}

/** A $batch item's response as a failure (status ≥ 400). */
export function failureOfBatchItem(item: { status: number; headers: Record<string, string>; body: unknown }): GraphFailure {
  const error = errorBody(item.body);
  return {
    status: item.status,
    code: error?.code,
    message: error?.message ?? `status ${item.status}`,
    retryAfterMs: parseRetryAfter(headerValue(item.headers, 'Retry-After')),
  };
}

/** Maps a failure to the port's kinds; 404s get a better message from the caller when it knows more. */
export function toDirectoryError(failure: GraphFailure | DirectoryError, context: FailureContext): DirectoryError {
  if (failure instanceof DirectoryError) return failure;
  const detail = `${failure.status === -1 ? 'no response' : failure.status}${failure.code ? ` ${failure.code}` : ''}: ${failure.message}`;
  if (failure.status === 429) {
    const wait = failure.retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(failure.retryAfterMs / 1000)} s`;
    return new DirectoryError('throttled', `Graph throttled the request to ${context.action}${wait}`, failure.retryAfterMs);
  }
  if (failure.status === -1 || failure.status === 408 || failure.status >= 500) {
    return new DirectoryError('unavailable', `Graph could not ${context.action} (${detail})`, failure.retryAfterMs);
  }
  if (failure.status === 401) {
    return new DirectoryError(
      'forbidden',
      `Graph rejected the app's access token while trying to ${context.action} (${detail}); check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST and GRAPH_ENDPOINT`,
    );
  }
  if (failure.status === 403) {
    return new DirectoryError(
      'forbidden',
      `Graph refused to ${context.action} (${detail}); the app needs the ${context.permission} application permission with admin consent`,
    );
  }
  if (failure.status === 404) return new DirectoryError('notFound', `cannot ${context.action}: ${failure.message}`);
  return new DirectoryError('invalid', `Graph rejected the request to ${context.action} (${detail})`);
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function errorBody(body: unknown): { code?: string; message?: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error: unknown = body.error;
  if (typeof error !== 'object' || error === null) return undefined;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const message = 'message' in error && typeof error.message === 'string' ? error.message : undefined;
  return { code, message };
}
