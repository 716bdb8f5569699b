import { createReadStream, fstatSync } from 'node:fs';
import { Readable } from 'node:stream';
import { runCli, type Io } from './commands';

/**
 * Stdin redirected from a file is read in 1 MiB pieces: process.stdin reads 64 KiB at a time, each
 * into a new buffer, which took about twice the CPU for a 650 MB JSONL file.
 */
function stdinReadable(): Readable {
  const isFile = (() => {
    try {
      return fstatSync(0).isFile();
    } catch {
      return false;
    }
  })();
  return isFile
    ? createReadStream('', { fd: 0, autoClose: false, highWaterMark: 1 << 20 })
    : process.stdin;
}

/** Stdin with its first chunk read ahead (to tell JSONL from text) and handed back in front. */
function peekableStdin() {
  const iterator = stdinReadable()[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: Promise<IteratorResult<Buffer>> | undefined;
  const peek = () => (first ??= iterator.next());
  async function* all() {
    const head = await peek();
    if (head.done) return;
    yield head.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      yield next.value;
  }
  return {
    peek: async () => {
      const head = await peek();
      return head.done ? '' : head.value.toString('utf8');
    },
    stream: () => Readable.from(all()),
  };
}

const stdin = peekableStdin();
const io: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: { isTTY: Boolean(process.stdin.isTTY) },
  stderrIsTTY: Boolean(process.stderr.isTTY),
  peekStdin: stdin.peek,
  stdinStream: stdin.stream,
};

// The only place the CLI reads the environment.
process.exitCode = await runCli(process.argv.slice(2), process.env, process.cwd(), io);
