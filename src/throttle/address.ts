import { isIPv6 } from 'node:net';

/**
 * The "address" the throttles count by: an IPv4 address as it is (also when it arrives as an
 * IPv4-mapped IPv6 address), and an IPv6 address by its /64 prefix, which is what one
 * subscriber or host usually gets: counting single IPv6 addresses would let one machine
 * change its address for every attempt. Anything else (not an IP address) is used as it is.
 */
export function throttledAddress(ip: string): string {
  if (!ip.includes(':')) return ip; // IPv4: the common case, one scan
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zoneless = bare.split('%', 1)[0] as string;
  if (!isIPv6(zoneless)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(zoneless);
  if (mapped) return mapped[1] as string;
  return `${hextets(zoneless).slice(0, 4).join(':')}::/64`;
}

/** The 8 groups of a valid IPv6 address, `::` expanded, each without leading zeros, lower case. */
function hextets(ip: string): string[] {
  const [head = '', tail] = ip.toLowerCase().split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  let left = groups(head);
  let right = groups(tail);
  // An embedded IPv4 address at the end (::1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const last = (right.length > 0 ? right : left).at(-1);
  if (last?.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    const v4 = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (right.length > 0) right = [...right.slice(0, -1), ...v4];
    else left = [...left.slice(0, -1), ...v4];
  }
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16).toString(16));
}
