// Process entry: configuration, start-up, and a clean stop on SIGINT/SIGTERM.
import { ConfigError, loadConfig } from './config';

async function main(): Promise<void> {
  const config = loadConfig();
  // Imported only once the configuration is known good, so a configuration error is the one
  // line printed (restify's import emits a Node deprecation warning of its own).
  const { startApp } = await import('./app');
  const app = await startApp(config);
  // Node's default ends the process on a promise rejection nobody handled. One that escapes a
  // request (a library's fire-and-forget promise) must not take every other user down with it:
  // logged once, and the process keeps serving. Uncaught exceptions stay fatal (state unknown).
  process.on('unhandledRejection', (reason: unknown) => {
    app.logger.error({ err: reason }, 'unhandled promise rejection (the process keeps serving)');
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'stopping');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // Operator-facing failures get their message alone; anything else gets the stack.
  if (error instanceof ConfigError || (error instanceof Error && error.name === 'StartupError')) console.error(error.message);
  else console.error('Start-up failed:', error);
  process.exit(1);
});
