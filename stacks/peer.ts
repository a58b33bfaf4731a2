// The cross-stack protocol (docs/design.md, "The cross-stack protocol"; its types are
// in model/lab.ts): what a stack exports for its peers and what it reads of theirs;
// stacks/peer-checks.ts checks what they exported.
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterIdentity,
    PEER_OUTPUTS,
    PeerOutputName,
    PkiRole,
    PROTOCOL_VERSION,
    SigningRequests,
    TrustModel,
    UsedFromPeers,
} from "../model/lab";
import { labAddressesOf, LabConfig } from "./config/lab-config";
import { PeerRef } from "./config/schema";

export function identityOf(cfg: LabConfig): ClusterIdentity {
    return {
        protocolVersion: PROTOCOL_VERSION,
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

/** What this stack can see of one peer: which outputs exist, and each as an Output that keeps its secrecy. */
export interface PeerView {
    /** The roster entry's stack, as the StackReference names it. */
    readonly stack: string;
    /** The roster entry's cluster name: what this stack calls the peer's cluster. */
    readonly clusterName: string;
    readonly identity?: ClusterIdentity;
    readonly available: ReadonlySet<PeerOutputName>;
    /** The clusters the root stack signed intermediates for (the keys of its `signedIntermediates` output), when it exported them. */
    readonly signedClusters?: string[];
    output<T>(name: PeerOutputName): pulumi.Output<T>;
    /** The value of a non-secret output as the peer last exported it; undefined when absent or secret. */
    plain<T>(name: PeerOutputName): T | undefined;
}

/**
 * The outputs a stack with role `role` declares resources from, of a peer with
 * role `peerRole`: every peer's identity (the checks) and remote secret; in the
 * shared model the root stack signs every peer's signing requests, and a
 * peer-role stack takes the root and its signed certificates from the root
 * stack; in the federated model each takes every other's SPIRE federation and root. A
 * peer-role stack also takes the root stack's `labServicesCaCert` (in either
 * model) to trust the lab registry and issuer.
 */
export function consumedOutputs(role: PkiRole, peerRole: PkiRole, trustModel: TrustModel): PeerOutputName[] {
    const used: PeerOutputName[] = ["identity", "remoteSecret"];
    const fromRoot = role === "peer" && peerRole === "root";
    if (fromRoot) used.push("labServicesCaCert");
    // The federated model takes every peer's root too: istiod names it as the anchor of that peer's trust domain.
    if (trustModel === "federated") used.push("rootCaCert");
    if (trustModel === "federated") used.push("federation");
    else if (role === "root") used.push("signingRequests");
    else if (fromRoot) used.push("rootCaCert", "signedIntermediates");
    return used.sort();
}

/**
 * The role of a peer: from its identity; a peer not deployed yet is taken to be
 * the other role than this stack's when it is the only peer (the two-cluster
 * lab), else "peer".
 */
function roleOf(cfg: LabConfig, peer: Pick<PeerView, "identity">, peerCount: number): PkiRole {
    if (peer.identity) return peer.identity.pkiRole;
    return cfg.pki.role === "peer" && peerCount === 1 ? "root" : "peer";
}

/** The peer of the roster that owns the lab root (pki.role "root"), once its identity says so. */
export function rootPeerOf(cfg: LabConfig, peers: readonly PeerView[]): PeerView | undefined {
    if (cfg.pki.role === "root") return undefined;
    return peers.find((p) => p.identity !== undefined && roleOf(cfg, p, peers.length) === "root");
}

/**
 * How messages name the root stack: `root stack "comp2"` once a peer's identity
 * says it is the root, or when the roster has one peer (which then must be);
 * else the roster's stacks it is one of.
 */
export function rootStackLabel(cfg: LabConfig, peers: readonly PeerView[]): string {
    const root = rootPeerOf(cfg, peers) ?? (peers.length === 1 ? peers[0] : undefined);
    return root
        ? `root stack "${root.stack}"`
        : `the root stack (one of ${peers.map((p) => `"${p.stack}"`).join(", ")})`;
}

/**
 * The names of this stack's outputs that `peer` uses but did not use in its last
 * run (its `usedFromPeer` output), given what this run exports: the peer must run
 * next to pick them up. Nothing when the peer is not deployed (it is told so then).
 */
export function unusedByPeer(
    cfg: LabConfig,
    peer: PeerView,
    peerCount: number,
    exported: readonly string[],
): PeerOutputName[] {
    const used = peer.plain<UsedFromPeers>("usedFromPeer");
    if (!peer.identity || used === undefined) return [];
    // None for this cluster: the peer has not run since this cluster joined its roster.
    const fromHere = used[cfg.cluster.name] ?? [];
    return consumedOutputs(roleOf(cfg, peer, peerCount), cfg.pki.role, cfg.mesh.trustModel).filter(
        (n) => exported.includes(n) && !fromHere.includes(n),
    );
}

/** The peer outputs this run declares resources from, by peer: the `usedFromPeer` output. */
export class PeerUse {
    private readonly used = new Map<string, Set<PeerOutputName>>();

    constructor(peers: readonly PeerView[]) {
        for (const p of peers) this.used.set(p.clusterName, new Set(p.identity ? ["identity"] : []));
    }

    mark(peer: PeerView, name: PeerOutputName): void {
        this.used.get(peer.clusterName)?.add(name);
    }

    output(): UsedFromPeers {
        return Object.fromEntries([...this.used].map(([cluster, names]) => [cluster, [...names].sort()]));
    }
}

/**
 * Reads one peer stack's outputs through a StackReference. A missing output
 * means the peer has not been deployed (that far) yet: a warning naming the
 * stack to run, never an error.
 */
async function readPeer(
    cfg: LabConfig,
    entry: PeerRef,
    peerCount: number,
    opts?: pulumi.CustomResourceOptions,
): Promise<PeerView> {
    const ref = new pulumi.StackReference(`${cfg.stack}-peer-${entry.clusterName}`, { name: entry.stack }, opts);
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
    const view: PeerView = {
        stack: entry.stack,
        clusterName: entry.clusterName,
        identity,
        available,
        signedClusters,
        output: <T>(name: PeerOutputName) => ref.getOutput(name) as pulumi.Output<T>,
        plain: <T>(name: PeerOutputName) => plain.get(name) as T | undefined,
    };
    const missing = consumedOutputs(cfg.pki.role, roleOf(cfg, view, peerCount), cfg.mesh.trustModel).filter(
        (n) => !available.has(n),
    );
    if (missing.length > 0) {
        pulumi.log.warn(
            `peer stack "${entry.stack}" has not exported ${missing.join(", ")} yet (not deployed, or not yet converged): ` +
                `the parts that need them are left out; run \`pulumi up\` on "${entry.stack}", then here again`,
        );
    }
    return view;
}

/** Reads every peer of the roster, one StackReference each. */
export async function readPeers(cfg: LabConfig, opts?: pulumi.CustomResourceOptions): Promise<PeerView[]> {
    const peers: PeerView[] = [];
    for (const entry of cfg.peers) peers.push(await readPeer(cfg, entry, cfg.peers.length, opts));
    return peers;
}

/** What this stack's own last run exported, as far as this run checks it against the root stack's certificates. */
export interface OwnLastRun {
    /** The signing requests it last exported; absent for a stack never deployed, or destroyed and built again. */
    readonly signingRequests?: SigningRequests;
}

/**
 * A peer-role stack of the shared model reads its own last outputs through a
 * StackReference to itself, before it declares anything: the root stack signed the
 * requests this stack exported then, and a stack rebuilt since has new keys the
 * root's certificates do not match (stacks/layers/pki.ts). Undefined for any other
 * stack: the root signs its own requests in the same run, and in the federated
 * model each stack signs its own.
 */
export async function readOwnLastRun(
    cfg: LabConfig,
    opts?: pulumi.CustomResourceOptions,
): Promise<OwnLastRun | undefined> {
    if (cfg.mesh.trustModel !== "shared" || cfg.pki.role !== "peer") return undefined;
    const ref = new pulumi.StackReference(`${cfg.stack}-self`, { name: cfg.stack }, opts);
    const requests = (await ref.getOutputDetails("signingRequests")).value as SigningRequests | undefined | null;
    return { signingRequests: requests ?? undefined };
}
