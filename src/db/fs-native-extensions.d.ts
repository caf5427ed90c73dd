/** The part of fs-native-extensions (advisory file locks) the data-directory lock uses; the package ships no types. */
declare module 'fs-native-extensions' {
  /** An exclusive lock on the whole file: true when granted, false when another open file holds it. Never waits. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
  export function unlock(fd: number): void;
}
