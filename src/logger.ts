import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger };

// Secrets must never reach the logs: these paths are censored wherever they appear.
const REDACT = [
  'password',
  'appPassword',
  'secret',
  'clientSecret',
  'mongodbUri',
  'token',
  'req.headers.authorization',
  'headers.authorization',
  '*.password',
  '*.appPassword',
  '*.secret',
  '*.clientSecret',
  '*.mongodbUri',
  '*.token',
  '*.authorization',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'access-packages' } }, destination);
}
