import { ConfigError, loadConfig } from './env';
import { createLogger } from './log';
import { runServer } from './run';

/** sysexits' EX_CONFIG: the configuration is wrong, so restarting will not help. */
const EXIT_CONFIG = 78;
/**
 * One Ctrl-C reaches the server several times within milliseconds: from the terminal (the whole
 * foreground process group gets it) and again from each parent that relays it (npm, the start
 * script, pnpm). Those echoes are the same request to stop; a signal later than this asks to stop now.
 */
const RELAYED_SIGNAL_MS = 1_000;

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
  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (performance.now() - stoppingSince < RELAYED_SIGNAL_MS) return;
      log.warn('second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stoppingSince = performance.now();
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
