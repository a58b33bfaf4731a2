// The cross-stack protocol (docs/design.md, "The cross-stack protocol"; its types are
// in model/lab.ts): what a stack exports for its peers, and the checks it runs on what
// they exported.
import * as pulumi from "@pulumi/pulumi";
import { ClusterIdentity, PEER_OUTPUTS, PeerOutputName, PkiRole, TrustModel, Versions } from "../model/lab";
import { fullKey, LabConfig, labAddressesOf } from "./config";
import { containsIp, overlaps, parseAddressRange, parseCidr, Ipv4Range } from "./net";
import { compareVersions } from "./support";

export function identityOf(cfg: LabConfig): ClusterIdentity {
    return {
        clusterName: cfg.cluster.name,
        clusterId: cfg.cluster.id,
        network: cfg.cluster.network,
        meshId: cfg.mesh.id,
        trustDomain: cfg.mesh.trustDomain,
        trustModel: cfg.mesh.trustModel,
        metallbAddresses: [...cfg.metallb.addresses],
        podCidr: cfg.cluster.podCidr,
        serviceCidr: cfg.cluster.serviceCidr,
        eastWestAddress: cfg.metallb.eastWestAddress,
        versions: { ...cfg.versions },
        pkiRole: cfg.pki.role,
        labAddresses: labAddressesOf(cfg),
    };
}

/**
 * The lab runs one set of versions. While an upgrade is under way one stack is
 * necessarily ahead of the other (docs/upgrade.md, "In place": the root stack first), so
 * a stack ahead of its peer gets a warning naming the run to do next, and a stack
 * behind its peer, or ahead in one version and behind in another, is refused:
 * its stack file was not updated. A peer deployed before identities carried
 * versions is not compared (its next `pulumi up` exports them).
 */
export function peerVersionCheck(own: ClusterIdentity, peer: ClusterIdentity, peerStack: string): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    const ahead: string[] = [];
    if (!own.versions || !peer.versions) return { problems, warnings: [] };
    for (const [key, value] of Object.entries(own.versions) as [keyof Versions, string][]) {
        const theirs = peer.versions[key];
        if (theirs === undefined || compareVersions(value, theirs) === 0) continue;
        if (compareVersions(value, theirs) < 0) {
            problems.push(
                `${fullKey(`versions.${key}`)} is "${value}" here but peer stack "${peerStack}" runs "${theirs}": both clusters run the same versions; ` +
                    `set versions.${key}: "${theirs}" in this stack's file too (docs/upgrade.md, "In place")`,
            );
        } else {
            ahead.push(`versions.${key} "${theirs}" -> "${value}"`);
        }
    }
    if (problems.length > 0 && ahead.length > 0) {
        problems.push(`this stack is also ahead of peer stack "${peerStack}" in ${ahead.join(", ")}: set the same versions in both stack files`);
    }
    const warnings =
        problems.length === 0 && ahead.length > 0
            ? [`upgrade under way: peer stack "${peerStack}" still runs ${ahead.join(", ")}; run \`pulumi up\` on "${peerStack}" next, with the same versions in its stack file (docs/upgrade.md, "In place")`]
            : [];
    return { problems, warnings };
}

/**
 * Problems between this cluster and its peer: they must share the mesh (and, in
 * the shared model, the trust domain) and differ in everything that names or
 * addresses a cluster. Each message carries both values.
 */
export function peerProblems(own: ClusterIdentity, peer: ClusterIdentity, expectedPeerName: string, peerStack: string): string[] {
    const problems: string[] = [...peerVersionCheck(own, peer, peerStack).problems];
    const both = (key: string, a: unknown, b: unknown) => `${fullKey(key)} is ${JSON.stringify(a)} here and ${JSON.stringify(b)} in peer stack "${peerStack}"`;

    if (peer.clusterName !== expectedPeerName) {
        problems.push(`${fullKey("peer.clusterName")} = "${expectedPeerName}" but peer stack "${peerStack}" reports cluster "${peer.clusterName}": fix the name or the peer stack`);
    }
    if (own.meshId !== peer.meshId) problems.push(`${both("mesh.id", own.meshId, peer.meshId)}: both clusters must be in one mesh`);
    if (own.trustModel !== peer.trustModel) problems.push(`${both("mesh.trustModel", own.trustModel, peer.trustModel)}: choose one trust model for both`);
    if (own.trustModel === "shared" && own.trustDomain !== peer.trustDomain) {
        problems.push(`${both("mesh.trustDomain", own.trustDomain, peer.trustDomain)}: the shared trust model needs one trust domain (or set mesh.trustModel to "federated")`);
    }
    if (own.trustModel === "federated" && own.trustDomain === peer.trustDomain) {
        problems.push(`${both("mesh.trustDomain", own.trustDomain, peer.trustDomain)}: the federated trust model needs a trust domain per cluster`);
    }
    if (own.clusterName === peer.clusterName) problems.push(`${both("cluster.name", own.clusterName, peer.clusterName)}: cluster names must differ`);
    if (own.clusterId === peer.clusterId) problems.push(`${both("cluster.id", own.clusterId, peer.clusterId)}: cluster ids must differ (Cilium and Istio key state by it)`);
    if (own.network === peer.network) problems.push(`${both("cluster.network", own.network, peer.network)}: the clusters are on different networks; name them differently`);

    const ownPools = own.metallbAddresses.map((a) => parseAddressRange(a)).filter((r): r is Ipv4Range => r !== undefined);
    const peerPools = peer.metallbAddresses.map((a) => parseAddressRange(a)).filter((r): r is Ipv4Range => r !== undefined);
    for (const a of ownPools) {
        for (const b of peerPools) {
            if (overlaps(a, b)) problems.push(`${fullKey("metallb.addresses")}: "${a.text}" here overlaps "${b.text}" in peer stack "${peerStack}": the pools share one L2 network and must be disjoint`);
        }
    }
    // Exactly one root among the stacks that see each other: two would be two PKIs that do not
    // trust each other (and both would drive the registry on comp1); none, a PKI nobody issues.
    if (own.pkiRole === "root" && peer.pkiRole === "root") {
        problems.push(`${both("pki.role", "root", "root")}: exactly one stack of the lab owns the root CA; set pki.role to "peer" in one of them`);
    }
    if (own.pkiRole === "peer" && peer.pkiRole === "peer") {
        problems.push(`${both("pki.role", "peer", "peer")}: then no stack issues the lab PKI and neither run can converge; set pki.role to "root" in one of them`);
    }
    for (const [key, address] of Object.entries(peer.labAddresses ?? {})) {
        const pool = ownPools.find((p) => containsIp(p, address));
        if (pool) {
            problems.push(
                `${fullKey("metallb.addresses")}: "${pool.text}" here contains ${key} = "${address}" of peer stack "${peerStack}": ` +
                    "MetalLB could hand that machine's address to a Service and answer ARP for it; leave every lab machine's address out of the pool",
            );
        }
    }
    for (const key of ["podCidr", "serviceCidr"] as const) {
        for (const peerKey of ["podCidr", "serviceCidr"] as const) {
            const a = parseCidr(own[key]);
            const b = parseCidr(peer[peerKey]);
            if (a && b && overlaps(a, b)) {
                problems.push(`${fullKey(`cluster.${key}`)} = "${own[key]}" overlaps the peer's cluster.${peerKey} = "${peer[peerKey]}" (stack "${peerStack}"): give each cluster its own ranges`);
            }
        }
    }
    return problems;
}

/** What this stack can see of its peer: which outputs exist, and each as an Output that keeps its secrecy. */
export interface PeerView {
    readonly stack: string;
    readonly identity?: ClusterIdentity;
    readonly available: ReadonlySet<PeerOutputName>;
    /** The clusters the root stack signed intermediates for (the keys of its `signedIntermediates` output), when it exported them. */
    readonly signedClusters?: string[];
    output<T>(name: PeerOutputName): pulumi.Output<T>;
    /** The value of a non-secret output as the peer last exported it; undefined when absent or secret. */
    plain<T>(name: PeerOutputName): T | undefined;
}

/**
 * The peer outputs a stack with this role and trust model declares resources
 * from: the identity for the checks and the remote secret always; in the shared
 * model the root signs the peer's signing requests and the peer takes the root and
 * its signed certificates; in the federated model each takes the other's SPIRE
 * federation. A peer-role stack also takes the root stack's `rootCaCert` to trust
 * the lab registry.
 */
export function consumedOutputs(role: PkiRole, trustModel: TrustModel): PeerOutputName[] {
    const used: PeerOutputName[] = ["identity", "remoteSecret"];
    if (role === "peer") used.push("rootCaCert");
    if (trustModel === "shared") used.push(role === "root" ? "signingRequests" : "signedIntermediates");
    else used.push("federation");
    return used.sort();
}

/** The outputs this stack waits for from its peer. */
export function expectedPeerOutputs(cfg: LabConfig): PeerOutputName[] {
    return consumedOutputs(cfg.pki.role, cfg.mesh.trustModel);
}

/** The peer's role: the other one (both own a root in the federated model, but only one runs the registry). */
function otherRole(role: PkiRole): PkiRole {
    return role === "root" ? "peer" : "root";
}

/**
 * Outputs of this stack that the peer uses but did not use in its last run
 * (its `usedFromPeer` output), given what this run exports: the peer must run
 * next to pick them up. Nothing when the peer is not deployed (it is told so then).
 */
export function unusedByPeer(cfg: LabConfig, peer: PeerView, exported: readonly string[]): PeerOutputName[] {
    const used = peer.plain<string[]>("usedFromPeer");
    if (!peer.identity || used === undefined) return [];
    return consumedOutputs(otherRole(cfg.pki.role), cfg.mesh.trustModel).filter((n) => exported.includes(n) && !used.includes(n));
}

/**
 * Reads the peer stack's outputs through a StackReference. A missing output
 * means the peer has not been deployed (that far) yet: a warning, never an error.
 */
export async function readPeer(cfg: LabConfig, opts?: pulumi.CustomResourceOptions): Promise<PeerView> {
    const ref = new pulumi.StackReference(`${cfg.stack}-peer`, { name: cfg.peers[0].stack }, opts);
    const available = new Set<PeerOutputName>();
    const plain = new Map<PeerOutputName, unknown>();
    let identity: ClusterIdentity | undefined;
    let signedClusters: string[] | undefined;
    for (const name of PEER_OUTPUTS) {
        const details = await ref.getOutputDetails(name);
        const value = details.value ?? details.secretValue;
        if (value === undefined || value === null) continue;
        available.add(name);
        if (details.value !== undefined) plain.set(name, details.value);
        if (name === "identity") identity = value as ClusterIdentity;
        if (name === "signedIntermediates" && typeof value === "object") signedClusters = Object.keys(value as object);
    }
    const missing = expectedPeerOutputs(cfg).filter((n) => !available.has(n));
    if (missing.length > 0) {
        pulumi.log.warn(
            `peer stack "${cfg.peers[0].stack}" has not exported ${missing.join(", ")} yet (not deployed, or not yet converged): ` +
                `the parts that need them are left out; run \`pulumi up\` on "${cfg.peers[0].stack}", then here again`,
        );
    }
    return {
        stack: cfg.peers[0].stack,
        identity,
        available,
        signedClusters,
        output: <T>(name: PeerOutputName) => ref.getOutput(name) as pulumi.Output<T>,
        plain: <T>(name: PeerOutputName) => plain.get(name) as T | undefined,
    };
}

/**
 * A peer-role stack of the shared model needs intermediates signed for its own
 * cluster name; the root stack signs this cluster's requests under its
 * `peer.clusterName`. When the root signed for a cluster other than itself and
 * this one, it took this cluster's requests under a wrong name: refused before
 * anything is declared, so it is a message and not a failure inside an Output.
 * (When it signed only for itself, it has not signed for this cluster yet:
 * main.ts warns and leaves the PKI out.)
 */
export function intermediatesProblems(cfg: LabConfig, peer: Pick<PeerView, "signedClusters" | "identity">): string[] {
    if (cfg.pki.role !== "peer" || cfg.mesh.trustModel !== "shared" || peer.signedClusters === undefined || peer.signedClusters.includes(cfg.cluster.name)) return [];
    const rootCluster = peer.identity?.clusterName;
    if (!peer.signedClusters.some((c) => c !== rootCluster)) return [];
    return [
        `root stack "${cfg.peers[0].stack}" signed intermediates for ${peer.signedClusters.map((c) => `"${c}"`).join(", ")} but not for this cluster, ` +
            `${fullKey("cluster.name")} = "${cfg.cluster.name}": set ${fullKey("peer.clusterName")} to "${cfg.cluster.name}" in Pulumi.${cfg.peers[0].stack.split("/").pop()}.yaml and run \`pulumi up\` there first`,
    ];
}
