// The cross-stack protocol (docs/design.md, "The cross-stack protocol"; its types are
// in model/lab.ts): what a stack exports for its peers, and the checks it runs on what
// they exported.
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterIdentity,
    PEER_OUTPUTS,
    PeerOutputName,
    PkiRole,
    PROTOCOL_VERSION,
    TrustModel,
    UsedFromPeers,
    Versions,
} from "../model/lab";
import { labAddressesOf, LabConfig } from "./config/lab-config";
import { stackNameOf } from "./config/messages";
import {
    machineInPoolProblems,
    networkFacts,
    NetworkFacts,
    poolOverlapProblems,
    rangeOverlapProblems,
} from "./config/network";
import { fullKey, PeerRef } from "./config/schema";
import { compareVersions } from "./support";

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

/**
 * The lab runs one set of versions (`versions`, set once in Pulumi.yaml). While an
 * upgrade is under way one stack is necessarily ahead of the others (docs/upgrade.md,
 * "In place": the root stack first), so a stack ahead of a peer gets a warning naming
 * the run to do next, and a stack behind a peer, or ahead in one version and behind
 * in another, is refused: it runs from a checkout whose Pulumi.yaml is older than the
 * one the peer was deployed from. The cross-stack protocol is compared first
 * (peerProtocolCheck): the versions of a peer it refuses are not read.
 */
export function peerVersionCheck(
    own: ClusterIdentity,
    peer: ClusterIdentity,
    peerStack: string,
): { problems: string[]; warnings: string[] } {
    const protocol = peerProtocolCheck(own, peer, peerStack);
    if (protocol.problems.length > 0) return protocol;
    const problems: string[] = [];
    const ahead: string[] = [];
    for (const [key, value] of Object.entries(own.versions) as [keyof Versions, string][]) {
        const theirs = peer.versions[key];
        if (theirs === undefined || compareVersions(value, theirs) === 0) continue;
        if (compareVersions(value, theirs) < 0) {
            problems.push(
                `${fullKey(`versions.${key}`)} is "${value}" here but peer stack "${peerStack}" runs "${theirs}": both clusters run the same versions; ` +
                    `set versions.${key}: "${theirs}" in Pulumi.yaml (or pull the checkout the peer was deployed from; docs/upgrade.md, "In place")`,
            );
        } else {
            ahead.push(`versions.${key} "${theirs}" -> "${value}"`);
        }
    }
    if (problems.length > 0 && ahead.length > 0) {
        problems.push(
            `this stack is also ahead of peer stack "${peerStack}" in ${ahead.join(", ")}: deploy every stack from one Pulumi.yaml`,
        );
    }
    const warnings =
        problems.length === 0 && ahead.length > 0
            ? [
                  `upgrade under way: peer stack "${peerStack}" still runs ${ahead.join(", ")}; run \`pulumi up\` on "${peerStack}" next, from this checkout (docs/upgrade.md, "In place")`,
              ]
            : [];
    return { problems, warnings: [...protocol.warnings, ...warnings] };
}

/**
 * The cross-stack protocol of a peer (its identity's `protocolVersion`; none is
 * protocol 1) against this program's (PROTOCOL_VERSION). The same: nothing to say.
 * Newer: refused, this checkout is older than the one the peer was deployed from.
 * One behind: read, with a warning naming the peer's `pulumi up` as the next run
 * (stacks are upgraded one after the other, so each meets a peer not yet upgraded:
 * refusing it would refuse every run). The rules read every field of an identity, so
 * one that lacks a field this stack's own identity has, or is further behind, is
 * refused, naming the stack to deploy again first and from which commit.
 */
export function peerProtocolCheck(
    own: ClusterIdentity,
    peer: ClusterIdentity,
    peerStack: string,
): { problems: string[]; warnings: string[] } {
    // As the peer's program exported it: any field may be absent, whatever the type says.
    const theirs = peer.protocolVersion ?? 1;
    const protocol = peer.protocolVersion === undefined ? "protocol 1, no protocolVersion" : `protocol ${theirs}`;
    const docs = 'docs/upgrade.md, "The cross-stack protocol"';
    const refused = (problem: string) => ({ problems: [problem], warnings: [] });
    if (theirs > own.protocolVersion) {
        return refused(
            `peer stack "${peerStack}" exports cross-stack ${protocol}, this checkout protocol ${own.protocolVersion}: it was deployed from a newer checkout; pull that one and run here again (${docs})`,
        );
    }
    const missing = Object.keys(own).filter(
        (key) => key !== "protocolVersion" && peer[key as keyof ClusterIdentity] === undefined,
    );
    if (missing.length > 0 || theirs < own.protocolVersion - 1) {
        const why =
            missing.length > 0
                ? `its identity (${protocol}) has no ${missing.join(", ")}`
                : `it exports cross-stack ${protocol}, this checkout protocol ${own.protocolVersion}`;
        return refused(
            `peer stack "${peerStack}" was deployed by a program older than this checkout reads: ${why}; ` +
                `run \`pulumi up\` on "${peerStack}" from commit c42e6a9 first (it reads every earlier identity and exports a whole one), then here again (${docs})`,
        );
    }
    if (theirs === own.protocolVersion) return { problems: [], warnings: [] };
    return {
        problems: [],
        warnings: [
            `upgrade under way: peer stack "${peerStack}" still exports cross-stack ${protocol}, this checkout protocol ${own.protocolVersion}; run \`pulumi up\` on "${peerStack}" next, from this checkout (${docs})`,
        ],
    };
}

/** One side of a pairwise check: an identity and how messages name where it comes from. */
interface Side {
    readonly identity: ClusterIdentity;
    /** "here", or `in peer stack "comp3"`. */
    readonly where: string;
    /** "this stack", or `peer stack "comp3"`. */
    readonly owner: string;
}

function ownSide(identity: ClusterIdentity): Side {
    return { identity, where: "here", owner: "this stack" };
}

function peerSide(identity: ClusterIdentity, stack: string): Side {
    return { identity, where: `in peer stack "${stack}"`, owner: `peer stack "${stack}"` };
}

/**
 * Problems between this cluster and one peer: the pairwise rules, the versions,
 * and that the peer is the cluster the roster names.
 */
export function peerProblems(
    own: ClusterIdentity,
    peer: ClusterIdentity,
    expectedPeerName: string,
    peerStack: string,
): string[] {
    const problems: string[] = [...peerVersionCheck(own, peer, peerStack).problems];
    // The rules below read every field of the identity, which a refused one may lack.
    if (peerProtocolCheck(own, peer, peerStack).problems.length > 0) return problems;
    if (peer.clusterName !== expectedPeerName) {
        problems.push(
            `${fullKey("peers")} names cluster "${expectedPeerName}" for stack "${peerStack}" but peer stack "${peerStack}" reports cluster "${peer.clusterName}": ` +
                "fix the clusterName of that entry, or the peer stack",
        );
    }
    const [a, b] = [ownSide(own), peerSide(peer, peerStack)];
    return [...problems, ...pairProblems(a, b), ...machineInPoolProblems([networkOf(a), networkOf(b)])];
}

/**
 * Problems between two clusters of the lab: they must share the mesh (and, in
 * the shared model, the trust domain) and differ in everything that names or
 * addresses a cluster; at most one of them owns the lab root. Each message
 * carries both values and where each comes from.
 */
function pairProblems(a: Side, b: Side): string[] {
    const problems: string[] = [];
    const [x, y] = [a.identity, b.identity];
    const both = (key: string, va: unknown, vb: unknown) =>
        `${fullKey(key)} is ${JSON.stringify(va)} ${a.where} and ${JSON.stringify(vb)} ${b.where}`;

    if (x.meshId !== y.meshId)
        problems.push(`${both("mesh.id", x.meshId, y.meshId)}: every cluster of the lab must be in one mesh`);
    if (x.trustModel !== y.trustModel)
        problems.push(
            `${both("mesh.trustModel", x.trustModel, y.trustModel)}: choose one trust model for every cluster`,
        );
    if (x.trustModel === "shared" && x.trustDomain !== y.trustDomain) {
        problems.push(
            `${both("mesh.trustDomain", x.trustDomain, y.trustDomain)}: the shared trust model needs one trust domain (or set mesh.trustModel to "federated")`,
        );
    }
    if (x.trustModel === "federated" && x.trustDomain === y.trustDomain) {
        problems.push(
            `${both("mesh.trustDomain", x.trustDomain, y.trustDomain)}: the federated trust model needs a trust domain per cluster`,
        );
    }
    if (x.clusterName === y.clusterName)
        problems.push(`${both("cluster.name", x.clusterName, y.clusterName)}: cluster names must differ`);
    if (x.clusterId === y.clusterId)
        problems.push(
            `${both("cluster.id", x.clusterId, y.clusterId)}: cluster ids must differ (Cilium and Istio key state by it)`,
        );
    if (x.network === y.network)
        problems.push(
            `${both("cluster.network", x.network, y.network)}: the clusters are on different networks; name them differently`,
        );

    // Two stacks on one machine would run two kubeadm clusters on it, each resetting the other's.
    // registry.host is comp1, shared by design (lab-wide).
    const hostsOf = (i: ClusterIdentity) => Object.entries(i.labAddresses).filter(([key]) => key !== "registry.host");
    for (const [ka, ip] of hostsOf(x)) {
        const same = hostsOf(y).find(([, other]) => other === ip);
        if (same)
            problems.push(
                `${fullKey(ka)} = "${ip}" ${a.where} is ${same[0]} ${b.where} too: each stack builds its own machine; give each stack its own host addresses`,
            );
    }
    problems.push(...poolOverlapProblems([networkOf(a), networkOf(b)]));
    // One root among the stacks that see each other: two would be two PKIs that do not
    // trust each other (and both would drive the registry on comp1).
    if (x.pkiRole === "root" && y.pkiRole === "root") {
        problems.push(
            `${both("pki.role", "root", "root")}: exactly one stack of the lab owns the root CA; set pki.role to "peer" in one of them`,
        );
    }
    problems.push(...rangeOverlapProblems([networkOf(a), networkOf(b)]));
    return problems;
}

/** A side's network facts, for the network rules (stacks/config/network.ts). */
function networkOf(side: Side): NetworkFacts {
    return networkFacts(side.identity, side.where, side.owner);
}

/**
 * Everything this stack can check of the lab it sees: itself against each peer
 * that exported its identity, and those peers against each other (a mistake
 * between two other stacks stops this run too: the mesh would join them). A
 * peer-role stack that sees every peer of its roster and no root among them is
 * refused: no stack would issue the lab PKI.
 */
export function labViewProblems(cfg: LabConfig, peers: readonly PeerView[]): string[] {
    const own = identityOf(cfg);
    const deployed = peers.filter((p): p is PeerView & { identity: ClusterIdentity } => p.identity !== undefined);
    const problems = deployed.flatMap((p) => peerProblems(own, p.identity, p.clusterName, p.stack));
    // The rules between peers read every field of their identities: a peer refused above is left out of them.
    const seen = deployed.filter((p) => peerProtocolCheck(own, p.identity, p.stack).problems.length === 0);
    seen.forEach((a, i) =>
        seen.slice(i + 1).forEach((b) => {
            const [sa, sb] = [peerSide(a.identity, a.stack), peerSide(b.identity, b.stack)];
            problems.push(
                ...pairProblems(sa, sb),
                ...machineInPoolProblems([networkOf(sa), networkOf(sb)]),
                ...machineInPoolProblems([networkOf(sb), networkOf(sa)]),
            );
        }),
    );
    if (cfg.pki.role === "peer" && seen.length === peers.length && seen.every((p) => p.identity.pkiRole === "peer")) {
        problems.push(
            `${fullKey("pki.role")} is "peer" here and in every peer stack (${peers.map((p) => `"${p.stack}"`).join(", ")}): ` +
                'then no stack issues the lab PKI and no run can converge; set pki.role to "root" in one of them',
        );
    }
    return problems;
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

/**
 * A peer-role stack of the shared model needs intermediates signed for its own
 * cluster name; the root stack signs this cluster's requests under the
 * clusterName of its roster entry for this stack. When the root signed for a
 * cluster other than itself and this one but not for this one, it took this
 * cluster's requests under a wrong name: refused before anything is declared, so
 * it is a message and not a failure inside an Output. (When it signed only for
 * itself, or not for every peer yet, stacks/layers/pki.ts warns and leaves the PKI out.)
 */
export function intermediatesProblems(
    cfg: LabConfig,
    root: Pick<PeerView, "stack" | "signedClusters" | "identity"> | undefined,
): string[] {
    if (
        !root ||
        cfg.pki.role !== "peer" ||
        cfg.mesh.trustModel !== "shared" ||
        root.signedClusters === undefined ||
        root.signedClusters.includes(cfg.cluster.name)
    )
        return [];
    const rootCluster = root.identity?.clusterName;
    const others = root.signedClusters.filter((c) => c !== rootCluster);
    // A cluster of this stack's roster is a peer the root signed for by its right name.
    const unknown = others.filter((c) => !cfg.peers.some((p) => p.clusterName === c));
    if (unknown.length === 0) return [];
    return [
        `root stack "${root.stack}" signed intermediates for ${root.signedClusters.map((c) => `"${c}"`).join(", ")} but not for this cluster, ` +
            `${fullKey("cluster.name")} = "${cfg.cluster.name}": in Pulumi.${stackNameOf(root.stack)}.yaml set the clusterName of the ${fullKey("peers")} entry for this stack to "${cfg.cluster.name}" ` +
            "and run `pulumi up` there first",
    ];
}
