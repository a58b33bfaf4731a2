// The network rules between clusters, each written once over a list of clusters'
// network facts and applied at two scopes: a stack checks itself alone (a list of
// one cluster: its own ranges, pools and machines against each other), and the
// lab (a list of two, this stack and a peer or two peers: one cluster's against
// the other's, since each cluster has checked its own). The message says where
// each value is: both in the one stack file, or "here" and "in peer stack ...".
import type { ClusterIdentity } from "../../model/lab";
import { LabConfig, labAddressesOf } from "./lab-config";
import { containsIp, Ipv4Range, overlaps, parseAddressRange, parseCidr } from "./net";
import { fullKey } from "./namespace";

/** What the network rules know of one cluster, and how messages name where its values are. */
export interface NetworkFacts {
    /** "here", or `in peer stack "comp3"`. */
    readonly where: string;
    /** "this stack", or `peer stack "comp3"`. */
    readonly owner: string;
    /** The pod and service ranges, by key ("podCidr", "serviceCidr"). */
    readonly ranges: readonly { readonly key: string; readonly range: Ipv4Range }[];
    /** The MetalLB pools. */
    readonly pools: readonly Ipv4Range[];
    /** The lab machines' addresses the cluster uses, by key ("host.address", "registry.host", ...). */
    readonly machines: Readonly<Record<string, string>>;
}

/** The network facts of a cluster: what its identity exports, or the same from its own configuration. Values that do not parse are left out. */
export function networkFacts(
    cluster: Pick<ClusterIdentity, "podCidr" | "serviceCidr" | "metallbAddresses" | "labAddresses">,
    where = "here",
    owner = "this stack",
): NetworkFacts {
    const ranges = (["podCidr", "serviceCidr"] as const).map((key) => ({ key, range: parseCidr(cluster[key]) }));
    return {
        where,
        owner,
        ranges: ranges.filter((r): r is { key: "podCidr" | "serviceCidr"; range: Ipv4Range } => r.range !== undefined),
        pools: cluster.metallbAddresses.map((a) => parseAddressRange(a)).filter((r): r is Ipv4Range => r !== undefined),
        machines: cluster.labAddresses,
    };
}

/** This stack's network facts from its own configuration, as its identity will export them: its own check runs the rules on it alone. */
export function ownNetwork(cfg: LabConfig): NetworkFacts {
    return networkFacts({
        podCidr: cfg.cluster.podCidr,
        serviceCidr: cfg.cluster.serviceCidr,
        metallbAddresses: cfg.metallb.addresses,
        labAddresses: labAddressesOf(cfg),
    });
}

interface Located<T> {
    readonly cluster: NetworkFacts;
    readonly item: T;
}

/** Every two items of the clusters' lists, in list order: of the one cluster when the list holds one, else only items of different clusters. */
function pairs<T>(
    clusters: readonly NetworkFacts[],
    itemsOf: (c: NetworkFacts) => readonly T[],
): [Located<T>, Located<T>][] {
    const items = clusters.flatMap((cluster) => itemsOf(cluster).map((item) => ({ cluster, item })));
    return items.flatMap((a, i) =>
        items
            .slice(i + 1)
            .flatMap((b): [Located<T>, Located<T>][] =>
                clusters.length === 1 || a.cluster !== b.cluster ? [[a, b]] : [],
            ),
    );
}

/** Pod and service ranges must not overlap: traffic for one would be routed to the other. */
export function rangeOverlapProblems(clusters: readonly NetworkFacts[]): string[] {
    return pairs(clusters, (c) => c.ranges)
        .filter(([a, b]) => overlaps(a.item.range, b.item.range))
        .map(([a, b]) =>
            a.cluster === b.cluster
                ? `${fullKey(`cluster.${a.item.key}`)} = "${a.item.range.text}" overlaps ${fullKey(`cluster.${b.item.key}`)} = "${b.item.range.text}": pick disjoint ranges`
                : `${fullKey(`cluster.${a.item.key}`)} = "${a.item.range.text}" ${a.cluster.where} overlaps cluster.${b.item.key} = "${b.item.range.text}" ${b.cluster.where}: give each cluster its own ranges`,
        );
}

/** MetalLB pools must be disjoint: the pools of the lab share one L2 network. */
export function poolOverlapProblems(clusters: readonly NetworkFacts[]): string[] {
    return pairs(clusters, (c) => c.pools)
        .filter(([a, b]) => overlaps(a.item, b.item))
        .map(([a, b]) =>
            a.cluster === b.cluster
                ? `${fullKey("metallb.addresses")}: "${a.item.text}" overlaps "${b.item.text}"`
                : `${fullKey("metallb.addresses")}: "${a.item.text}" ${a.cluster.where} overlaps "${b.item.text}" ${b.cluster.where}: the pools share one L2 network and must be disjoint`,
        );
}

/**
 * No lab machine's address may lie in a MetalLB pool: MetalLB could hand it to a
 * Service and answer ARP for it. The pools of the first cluster of the list, which
 * are its stack's to fix, against the machines of every cluster of the list: its
 * own when the list holds one, else the others'.
 */
export function machineInPoolProblems(clusters: readonly NetworkFacts[]): string[] {
    const [own] = clusters;
    const problems: string[] = [];
    for (const pool of own.pools) {
        for (const other of clusters.length === 1 ? clusters : clusters.slice(1)) {
            for (const [key, address] of Object.entries(other.machines)) {
                if (!containsIp(pool, address)) continue;
                problems.push(
                    other === own
                        ? `${fullKey("metallb.addresses")}: "${pool.text}" contains ${fullKey(key)} = "${address}": MetalLB could hand that address to a Service and answer ARP for it; ` +
                              "leave the hosts' and the registry's addresses out of the pool"
                        : `${fullKey("metallb.addresses")}: "${pool.text}" ${own.where} contains ${key} = "${address}" of ${other.owner}: ` +
                              "MetalLB could hand that machine's address to a Service and answer ARP for it; leave every lab machine's address out of the pool",
                );
            }
        }
    }
    return problems;
}
