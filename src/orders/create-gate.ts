import { AppError, ErrorCode } from '../errors/app-error';
import { KeyedGate } from '../shared/keyed-gate';

/**
 * The queue every create of a workspace passes through in this process: at
 * most `perWorkspace` of them at the database at a time (2: one holds the
 * workspace's order-number counter row, the next is ready to take it), the
 * others waiting here for at most `maxWaitMs`, then a 503 with `Retry-After`,
 * as when the pool has no connection to give. See `KeyedGate` for why.
 */
export function workspaceCreateGate(perWorkspace = 2, maxWaitMs = 2000): KeyedGate {
  return new KeyedGate(
    perWorkspace,
    maxWaitMs,
    () =>
      new AppError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'Too many creates in this workspace at once; retry shortly',
        [],
        1,
      ),
  );
}
