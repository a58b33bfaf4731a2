// IPv4 arithmetic for config validation. The lab is IPv4-only; IPv6 inputs are
// rejected by the validators with a message that says so.
import * as net from "net";

/** An inclusive range of IPv4 addresses as 32-bit unsigned integers. */
export interface Ipv4Range {
    readonly first: number;
    readonly last: number;
    /** The text the range was parsed from, for messages. */
    readonly text: string;
}

export function ipToInt(ip: string): number {
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export function isIpv4(text: string): boolean {
    return net.isIPv4(text);
}

/** Parses "a.b.c.d/n"; returns undefined when it is not an IPv4 CIDR. Host bits must be zero. */
export function parseCidr(text: string): Ipv4Range | undefined {
    const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
    if (!m || !isIpv4(m[1])) return undefined;
    const bits = Number(m[2]);
    if (bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const first = ipToInt(m[1]);
    if (first % size !== 0) return undefined;
    return { first, last: first + size - 1, text };
}

/**
 * Parses a MetalLB-style address entry: a CIDR ("10.5.0.96/28") or an
 * inclusive range ("10.5.0.100-10.5.0.120"). Returns undefined when it is
 * neither, or when the range runs backwards.
 */
export function parseAddressRange(text: string): Ipv4Range | undefined {
    if (text.includes("/")) return parseCidr(text);
    const parts = text.split("-").map((p) => p.trim());
    if (parts.length !== 2 || !isIpv4(parts[0]) || !isIpv4(parts[1])) return undefined;
    const first = ipToInt(parts[0]);
    const last = ipToInt(parts[1]);
    if (first > last) return undefined;
    return { first, last, text };
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
    return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
    return outer.first <= inner.first && inner.last <= outer.last;
}

export function containsIp(range: Ipv4Range, ip: string): boolean {
    const n = ipToInt(ip);
    return range.first <= n && n <= range.last;
}
