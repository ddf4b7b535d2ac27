/**
 * A server-side wire type as a client receives it after JSON: every Date is an ISO 8601
 * string. `Json<Client>` is what the CLI and the web app read.
 */
export type Json<T> = T extends Date ? string : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
