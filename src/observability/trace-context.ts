/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as a forwarder:
 * the gateway records no spans, so it never answers with a `traceparent` of
 * its own; it reads the caller's `traceparent` and `tracestate`, writes the
 * trace id into the request's log lines, and passes the context on unchanged
 * in the events of the change the request made (the CloudEvents Distributed
 * Tracing extension). A header the specification says to ignore (malformed,
 * upper-case hex, version `ff`, an all-zero id, two traceparents) is
 * ignored: the request is served as if it had none, and nothing of it is
 * stored. No OpenTelemetry SDK runs here: this is one header's parsing, done
 * only when the header is there (test/outside/trace-context.test.ts checks it
 * against OpenTelemetry's own propagator).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The caller's context, ready to pass on, and its ids for the log. */
export interface TraceContext {
  /** Version 00, as the specification says to pass on a context read from a later version. */
  traceparent: string;
  /** The caller's tracestate, when it parsed (at most 32 members, at most 512 characters). */
  tracestate?: string;
  traceId: string;
  /** The caller's span, the parent of whatever a consumer of the change starts. */
  spanId: string;
}

/**
 * Version, trace id, parent id, flags (§3.2.2); a later version than 00 may
 * have more fields after a dash. Lower-case hex only: upper case is invalid.
 */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: fixed-width hex fields, then one optional "-" and the rest
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** A tracestate member (§3.3.1.3): `key=value`, simple or multi-tenant key, value of printable ASCII without `,` and `=`. */
const MEMBER =
  /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_MEMBERS = 32;
/** What the gateway passes on, at most; the specification asks forwarders to keep at least 512 characters. */
const MAX_TRACESTATE_LENGTH = 512;
/** Members over this length go first when a tracestate is cut to size (§3.3.1.5). */
const LONG_MEMBER = 128;

/**
 * The fields that join a log line to the caller's trace, in the names of
 * OpenTelemetry's log data model (and its pino instrumentation); none for an
 * untraced request. For lines written through a logger other than the
 * request's own (which has them bound already; see http-telemetry.ts).
 */
export function traceLogFields(trace: TraceContext | undefined): { trace_id?: string; span_id?: string } {
  return trace ? { trace_id: trace.traceId, span_id: trace.spanId } : {};
}

/** The trace id of a `traceparent` as `traceContextOf` writes it (and the outbox stores it): `00-<trace id>-<span id>-<flags>`. */
export function traceIdOf(traceparent: string): string {
  return traceparent.split('-')[1] ?? '';
}

/**
 * The W3C headers that carry an event's trace on to its consumer: `traceparent` and
 * `tracestate` as the event holds them (its Distributed Tracing extension), none for an
 * untraced event. A webhook POST and a NATS message send them too, so an HTTP server or NATS
 * consumer instrumented with OpenTelemetry continues the caller's trace without reading the body.
 */
export function traceHeadersOf(event: { traceparent?: string; tracestate?: string }): Record<string, string> {
  if (!event.traceparent) return {};
  return event.tracestate
    ? { traceparent: event.traceparent, tracestate: event.tracestate }
    : { traceparent: event.traceparent };
}

/** The caller's trace context, or undefined when it sent none or one the specification says to ignore. */
export function traceContextOf(headers: IncomingHttpHeaders): TraceContext | undefined {
  const header = headers.traceparent;
  // Node joins a repeated field's lines with ", ", which no valid value contains: two traceparents are ignored.
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const match = TRACEPARENT.exec(header);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const tracestate = parseTracestate(headers.tracestate);
  return {
    traceparent: `00-${traceId}-${spanId}-${flags}`,
    ...(tracestate ? { tracestate } : {}),
    traceId,
    spanId,
  };
}

/**
 * A tracestate to pass on: its members as sent, or undefined when it is
 * missing, empty, or does not parse (a bad member, a repeated key, more than
 * 32 members: the whole header is left out rather than guessed at). Several
 * tracestate lines are one list (Node joins them with commas). Over 512
 * characters, it is cut as the specification says: long members first, then
 * from the end.
 */
function parseTracestate(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_MEMBERS * 520) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of header.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    if (!MEMBER.test(member)) return undefined;
    const key = member.slice(0, member.indexOf('='));
    if (keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
  }
  if (members.length === 0 || members.length > MAX_MEMBERS) return undefined;
  let kept = members;
  const length = () => kept.join(',').length;
  if (length() > MAX_TRACESTATE_LENGTH) kept = kept.filter((member) => member.length <= LONG_MEMBER);
  while (kept.length > 0 && length() > MAX_TRACESTATE_LENGTH) kept = kept.slice(0, -1);
  return kept.length > 0 ? kept.join(',') : undefined;
}
