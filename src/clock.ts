/** The time, injectable so tests can move it (token expiry, key activation, grace periods). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
