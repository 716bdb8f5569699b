import { ConfigError, loadConfig } from './env';
import { createLogger } from './log';
import { runServer } from './run';

/** sysexits' EX_CONFIG: the configuration is wrong, so restarting will not help. */
const EXIT_CONFIG = 78;

let config;
try {
  // The only place the server reads the environment.
  config = loadConfig(process.env, process.cwd());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`quarry: ${error.message}\n`);
  process.exit(EXIT_CONFIG);
}

const log = createLogger({
  format: config.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json'),
});

try {
  const server = await runServer(config, log, {
    interactive: Boolean(process.stderr.isTTY) && log.format === 'pretty',
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    server.stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The terminal that started it closed: stop as cleanly as on Ctrl-C.
  process.on('SIGHUP', stop);
  server.ready.catch((error: unknown) => {
    log.error('start-up failed', { error: error instanceof Error ? error.message : String(error) });
    void server.stop('start-up failed').finally(() => process.exit(1));
  });
} catch (error) {
  log.error('could not start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
