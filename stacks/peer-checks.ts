// The checks a stack runs on what its peers exported (docs/design.md, "The cross-stack
// protocol"): the protocol and versions they run, the network facts of every pair of
// clusters, and the names the root stack signed for. stacks/peer.ts reads the peers.
import { ClusterIdentity, Versions } from "../model/lab";
import { LabConfig } from "./config/lab-config";
import { stackNameOf } from "./config/messages";
import {
    machineInPoolProblems,
    networkFacts,
    NetworkFacts,
    poolOverlapProblems,
    rangeOverlapProblems,
} from "./config/network";
import { fullKey, PROJECT_FILE } from "./config/namespace";
import { identityOf, PeerView } from "./peer";
import { compareVersions } from "./support";

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
            `${fullKey("roster")} names cluster "${expectedPeerName}" for stack "${peerStack}" but peer stack "${peerStack}" reports cluster "${peer.clusterName}": ` +
                `fix the clusterName of that entry, or run \`pulumi up\` on "${peerStack}" (its stack file must say the same)`,
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
            `${fullKey("cluster.name")} = "${cfg.cluster.name}": the roster it last ran with named this stack's cluster otherwise; ` +
            `run \`pulumi up\` on "${stackNameOf(root.stack)}" first, with this ${PROJECT_FILE} (its ${fullKey("roster")} entry for this stack says clusterName: ${cfg.cluster.name})`,
    ];
}
