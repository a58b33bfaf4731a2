// Parsers for what the mesh answers: XFCC headers, helloworld replies, istiod's
// debug endpoints and SPIRE's entry list. Pure functions, tested on samples.
import { spiffeId } from "../model/lab";

/** One element of an X-Forwarded-Client-Cert header: its keys (By, Hash, Subject, URI, DNS...) with every value. */
export type XfccElement = Record<string, string[]>;

/**
 * Parses X-Forwarded-Client-Cert (Envoy's format): elements separated by `,`,
 * key=value pairs by `;`, values optionally double-quoted with `\"` escapes
 * (a quoted Subject can hold both separators).
 */
export function parseXfcc(header: string): XfccElement[] {
    const elements: XfccElement[] = [];
    let element: XfccElement = {};
    let key = "";
    let value = "";
    let inKey = true;
    let quoted = false;
    const endPair = () => {
        const k = key.trim();
        if (k !== "") (element[k] ??= []).push(value);
        key = "";
        value = "";
        inKey = true;
    };
    for (let i = 0; i < header.length; i++) {
        const ch = header[i];
        if (quoted) {
            if (ch === "\\" && i + 1 < header.length) value += header[++i];
            else if (ch === '"') quoted = false;
            else value += ch;
        } else if (inKey) {
            if (ch === "=") inKey = false;
            else if (ch === ";" || ch === ",") {
                endPair();
                if (ch === ",") {
                    elements.push(element);
                    element = {};
                }
            } else key += ch;
        } else if (ch === '"' && value === "") quoted = true;
        else if (ch === ";") endPair();
        else if (ch === ",") {
            endPair();
            elements.push(element);
            element = {};
        } else value += ch;
    }
    endPair();
    if (Object.keys(element).length > 0) elements.push(element);
    return elements;
}

/** The `URI=` values of every element: the SPIFFE IDs of the clients along the way. */
export function xfccUris(header: string): string[] {
    return parseXfcc(header).flatMap((e) => e.URI ?? []);
}

/** The X-Forwarded-Client-Cert header in httpbin's `/headers` reply (header names are case-insensitive). */
export function xfccFromHttpbin(body: string): string | undefined {
    const parsed = JSON.parse(body) as { headers?: Record<string, string | string[]> };
    const entry = Object.entries(parsed.headers ?? {}).find(([k]) => k.toLowerCase() === "x-forwarded-client-cert");
    if (entry === undefined) return undefined;
    return Array.isArray(entry[1]) ? entry[1].join(",") : entry[1];
}

/** How many helloworld replies came from each version, and the lines that were not replies. */
export interface VersionTally {
    readonly versions: Record<string, number>;
    readonly other: string[];
}

/** Tallies `Hello version: v1, instance: helloworld-v1-...` lines by version. */
export function tallyHelloworld(output: string): VersionTally {
    const versions: Record<string, number> = {};
    const other: string[] = [];
    for (const line of output
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")) {
        const m = /^Hello version: ([^,\s]+), instance: \S+/.exec(line);
        if (m) versions[m[1]] = (versions[m[1]] ?? 0) + 1;
        else other.push(line);
    }
    return { versions, other };
}

/** One cluster istiod reads endpoints from (`/debug/clusterz`, pkg/cluster.DebugInfo). */
export interface RemoteCluster {
    readonly id: string;
    /** `<namespace>/<secret>`; empty for istiod's own (config) cluster. */
    readonly secretName: string;
    /** `synced`, `syncing`, `timeout` or `closed`. */
    readonly syncStatus: string;
}

export function parseClusterz(json: string): RemoteCluster[] {
    const list = JSON.parse(json) as { id?: string; secretName?: string; syncStatus?: string }[];
    return list.map((c) => ({ id: c.id ?? "", secretName: c.secretName ?? "", syncStatus: c.syncStatus ?? "" }));
}

/** A cross-network gateway istiod knows (`/debug/networkz`, model.NetworkGateway; Go field names, no JSON tags). */
export interface NetworkGateway {
    readonly network: string;
    readonly cluster: string;
    readonly address: string;
    readonly port: number;
}

export function parseNetworkz(json: string): NetworkGateway[] {
    const list = (JSON.parse(json) ?? []) as { Network?: string; Cluster?: string; Addr?: string; Port?: number }[];
    return list.map((g) => ({
        network: g.Network ?? "",
        cluster: g.Cluster ?? "",
        address: g.Addr ?? "",
        port: g.Port ?? 0,
    }));
}

/** The SPIFFE IDs of SPIRE's registration entries (`spire-server entry show -output json`). */
export function spireEntryIds(json: string): string[] {
    const parsed = JSON.parse(json) as { entries?: { spiffe_id?: { trust_domain?: string; path?: string } }[] };
    return (parsed.entries ?? []).map((e) => spiffeId(e.spiffe_id?.trust_domain ?? "", e.spiffe_id?.path ?? ""));
}
