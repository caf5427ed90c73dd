/**
 * LISTEN on a PostgreSQL server for the NOTIFY that every change with events
 * sends at commit, so that a relay wakes as soon as any process commits (the
 * committing process's own relay is woken directly). One connection of its
 * own, outside the pool, reconnecting after a loss; while it is down the
 * relay's poll still finds everything. `onListening` hears each change of
 * state (true once LISTEN is in place, false when the connection is lost), so
 * that /metrics can say whether wake-ups are live and how often they were lost.
 */
import { Client } from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { EVENTS_CHANNEL } from '../orders/order-events';

export function listenForEvents(
  url: string,
  onNotify: () => void,
  log: Pick<FastifyBaseLogger, 'warn'>,
  onListening: (listening: boolean) => void = () => undefined,
  reconnectMs = 1000,
): () => Promise<void> {
  let listening = false;
  const setListening = (now: boolean) => {
    if (now === listening) return;
    listening = now;
    onListening(now);
  };
  let client: Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let warned = false;

  const connect = async () => {
    if (stopped) return;
    const next = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client = next;
    const lost = (error?: unknown) => {
      if (client !== next) return;
      client = undefined;
      next.removeAllListeners();
      next.on('error', () => undefined);
      void next.end().catch(() => undefined);
      if (stopped) return;
      setListening(false);
      if (!warned) log.warn({ err: error }, 'event relay: LISTEN connection lost; polling until it is back');
      warned = true;
      retry = setTimeout(() => void connect(), reconnectMs);
      retry.unref();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', () => onNotify());
    try {
      await next.connect();
      await next.query(`listen ${EVENTS_CHANNEL}`);
      warned = false;
      setListening(true);
      // Whatever was committed while we were not listening.
      onNotify();
    } catch (error) {
      lost(error);
    }
  };
  void connect();

  return async () => {
    stopped = true;
    clearTimeout(retry);
    const current = client;
    client = undefined;
    await current?.end().catch(() => undefined);
  };
}
