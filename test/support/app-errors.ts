import { expect } from 'vitest';
import { AppError } from '../../src/errors/app-error';

/** The AppError `run` throws; fails the test when it returns or throws anything else. */
export function caught(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected an AppError');
}

/** The AppError the promise `run` returns rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejected(run: () => Promise<unknown>): Promise<AppError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected an AppError');
}
