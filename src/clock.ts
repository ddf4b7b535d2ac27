/**
 * The time, injectable so tests can move it (token expiry, key activation, grace periods,
 * throttling windows). The one module that reads the system clock or makes a Date from a
 * number: everything else asks a Clock and uses the helpers below.
 */
export interface Clock {
  now(): Date;
  /** The same instant in milliseconds since the epoch, without making a Date: what the token path compares with. */
  nowMs(): number;
}

export const systemClock: Clock = { now: () => new Date(), nowMs: () => Date.now() };

/** `date` moved by `ms` milliseconds (negative: earlier). */
export function addMs(date: Date, ms: number): Date {
  return new Date(date.getTime() + ms);
}

export function addSeconds(date: Date, seconds: number): Date {
  return addMs(date, seconds * 1000);
}

/** The earlier of two instants. */
export function earlier(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}

/** A Date from milliseconds since the epoch. */
export function fromEpochMs(ms: number): Date {
  return new Date(ms);
}

/** A Date from seconds since the epoch (a JWT's `exp`, `iat`). */
export function fromEpochSeconds(seconds: number): Date {
  return new Date(seconds * 1000);
}
