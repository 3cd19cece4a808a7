import { createLogger, type Logger } from '../../src/logger';

/** A real pino logger writing to memory, so tests can assert on log lines without noise. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = createLogger('debug', { write: (chunk: string) => void chunks.push(chunk) });
  return { logger, lines: () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>) };
}

export const silentLogger: Logger = createLogger('silent');
