'use strict';
/**
 * Preloaded into the gateway by bench/run.ts (`node --expose-gc -r bench/heap-probe.js …`).
 * Between measuring rounds the bench asks over the IPC channel for the heap
 * after a full GC, so heap growth across rounds can be seen without changing
 * the gateway. It does nothing while requests are being measured. If the
 * gateway does not exit on SIGTERM, the bench asks it to exit here instead.
 */
if (typeof process.send === 'function') {
  process.on('message', (message) => {
    // The bench's fallback when the server does not exit on SIGTERM: exit, so that a --cpu-prof profile is written.
    if (message && message.type === 'bench:exit') process.exit(0);
    if (!message || message.type !== 'bench:heap') return;
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const { heapUsed, heapTotal, rss } = process.memoryUsage();
    process.send({
      type: 'bench:heap',
      id: message.id,
      heapUsed,
      heapTotal,
      rss,
      gc: typeof globalThis.gc === 'function',
    });
  });
  // The channel must not keep the gateway alive once it has closed its server.
  if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
}
