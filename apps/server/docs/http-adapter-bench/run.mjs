import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const vector = Array.from({ length: 1536 }, (_, i) => Math.sin(i) / 3);
writeFileSync(
  '/tmp/quarry/adapter-bench/body.json',
  JSON.stringify({ collection: 'bench', vector, k: 10 }),
);
const candidates = ['handwritten', 'standalone', 'fastify', 'hono'];
const rounds = Number(process.argv[2] ?? 2);
const amount = Number(process.argv[3] ?? 2000);
const results = {};
let port = 4200;
const cannon = (port, c, n) =>
  JSON.parse(
    execFileSync(
      'node',
      [
        'node_modules/.bin/autocannon',
        '-j',
        '-c',
        String(c),
        '-a',
        String(n),
        '-m',
        'POST',
        '-H',
        'content-type=application/json',
        '-i',
        'body.json',
        `http://127.0.0.1:${port}/trpc/search`,
      ],
      { encoding: 'utf8', maxBuffer: 1e8 },
    ),
  );
for (let round = 0; round < rounds; round++) {
  for (const name of candidates) {
    port++;
    const child = spawn('node', ['server.mjs', name, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => child.stdout.once('data', r));
    cannon(port, 8, 500); // warm-up (JIT)
    for (const c of [1, 8]) {
      child.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 100));
      const out = cannon(port, c, amount);
      const cpu = new Promise((r) =>
        child.stdout.once('data', (d) => r(JSON.parse(String(d)).cpuMs)),
      );
      child.kill('SIGUSR2');
      const cpuMs = await cpu;
      if (out.non2xx) throw new Error(`${name}: ${out.non2xx} non-2xx`);
      (results[`${name} c=${c}`] ??= []).push({
        rps: out.requests.average,
        p50: out.latency.p50,
        cpu: (cpuMs * 1000) / out.requests.total,
      });
    }
    child.kill();
  }
}
for (const [k, runs] of Object.entries(results)) {
  console.log(
    k.padEnd(18),
    runs
      .map((r) => `${r.cpu.toFixed(0)} µs CPU/req, ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms`)
      .join(' | '),
  );
}
