// The rules between keys of one stack's configuration, run once every key has
// parsed: the roster (roster.ts), the trust domain, the renewal window, the JWT issuer, the
// guards of issue 27 (with the opt-in warnings they allow), the secrets a
// configuration needs, and the network: ranges, pools and gateway addresses
// against each other and against the lab's machines.
import { runsIn } from "../../model/lab";
import { supportProblems } from "../support";
import { rootUseProblems } from "./brought-root";
import { rosterProblems } from "./roster";
import { LabConfig, labAddressesOf, ownsRoot } from "./lab-config";
import { fileOfKey, RawOrigin, shown, stackFileOf } from "./messages";
import { contains, containsIp, Ipv4Range, overlaps, parseAddressRange, parseCidr } from "./net";
import { machineInPoolProblems, ownNetwork, poolOverlapProblems, rangeOverlapProblems } from "./network";
import { fullKey, PROJECT_FILE } from "./namespace";
import { Parsed, RawConfig, SecretKey } from "./schema";
import { broadEgressReason, checkIssuerImage, hostOf, redactUserinfo } from "./values";
import { parseEgress } from "./workload-fields";
import { workloadProblems } from "./workloads";

/** kube-controller-manager's --node-cidr-mask-size for IPv4 (kubeadm keeps the default). */
export const NODE_CIDR_MASK_SIZE = 24;

/** Rules between keys of one section or two, whose defaults depend on each other: the roster, the JWT issuer, the renewal window. */
export function dependentProblems(
    raw: RawConfig,
    p: Parsed,
    cfg: LabConfig,
    origin: RawOrigin,
): { file: string; text: string }[] {
    const stackFile = stackFileOf(cfg.stack);
    const out: { file: string; text: string }[] = [];
    const inStack = (text: string) => out.push({ file: stackFile, text });
    const inProject = (text: string) => out.push({ file: PROJECT_FILE, text });

    for (const text of rosterProblems(cfg.stack, cfg.cluster.name, p.roster)) inProject(text);

    if (
        p.cluster.trustDomain !== undefined &&
        p.mesh.trustModel === "shared" &&
        p.cluster.trustDomain !== p.mesh.trustDomain
    ) {
        inStack(
            `${fullKey("cluster.trustDomain")} = "${p.cluster.trustDomain}" but ${fullKey("mesh.trustModel")} is "shared": the shared model has one trust domain, ` +
                `${fullKey("mesh.trustDomain")} = "${p.mesh.trustDomain}"; remove cluster.trustDomain (or make the lab "federated")`,
        );
    }

    if (p.pki.intermediateEarlyRenewalHours > p.pki.intermediateValidityHours - 1) {
        inStack(
            `${fullKey("pki.intermediateEarlyRenewalHours")} = ${p.pki.intermediateEarlyRenewalHours}: expected an integer from 0 to ${p.pki.intermediateValidityHours - 1}`,
        );
    }

    // JWT validation at the ingress. Without jwt.issuer, or with the lab issuer's own URL, the lab
    // issuer: its keys, its client as the audience, its certificate from the lab root. Any other
    // issuer is external and must come with its keys' URL and its CA certificate.
    const jwt = raw.jwt as Record<string, unknown> | undefined;
    if (!cfg.jwt.labIssuer && p.jwt.jwksUri === undefined) {
        inProject(
            `${fullKey("jwt.jwksUri")} is not set: give the https:// URL of ${cfg.jwt.issuer}'s signing keys (an external issuer's JWKS URI is not derived)`,
        );
    }
    if (!cfg.jwt.labIssuer && jwt?.caCert === undefined) {
        inProject(
            `${fullKey("jwt.caCert")} is not set: give the PEM certificate of the CA that signed ${cfg.jwt.issuer}'s certificate: jwt.issuer names an external issuer, and istiod trusts exactly that CA when it fetches the JWKS ` +
                `(add \`caCert: |\` with the PEM under ${fullKey("jwt")}'s \`value:\` in ${PROJECT_FILE}, or remove jwt.issuer to use the lab's issuer)`,
        );
    }
    if (cfg.jwt.labIssuer && cfg.jwt.caCert !== undefined) {
        inProject(
            `${fullKey("jwt.caCert")} = "(PEM)": the lab issuer's certificate comes from the lab root: remove jwt.caCert, or name an external jwt.issuer`,
        );
    }
    out.push(...guardProblems(p, cfg).map(([top, text]) => ({ file: fileOfKey(cfg.stack, top, origin), text })));
    out.push(...workloadProblems(cfg).map((text) => ({ file: fileOfKey(cfg.stack, "workloads", origin), text })));
    return out;
}

/**
 * Values that would switch zero trust off or reach comp1 unchecked (issue 27), each as
 * [the top-level key it is set under, the problem]: the opt-ins are documented keys.
 */
function guardProblems(p: Parsed, cfg: LabConfig): [string, string][] {
    const out: [string, string][] = [];
    const labRegistry = `${p.registry.host}:${p.registry.port}`;
    const image = checkIssuerImage(p.issuer.image, labRegistry);
    if (image) out.push(["issuer", `${fullKey("issuer.image")} = ${shown(p.issuer.image)}: ${image}`]);
    // Both run on comp1 (docker run -p <port>): one port cannot serve both.
    if (cfg.jwt.labIssuer && p.registry.port === p.issuer.port) {
        out.push([
            "issuer",
            `${fullKey("issuer.port")} = ${p.issuer.port} is ${fullKey("registry.port")} too: the registry and the lab issuer both listen on comp1; give the issuer another port (default 9443)`,
        ]);
    }
    if (!cfg.jwt.labIssuer) {
        // The ingress checks `aud` only when audiences are given: without, any client of the issuer gets in.
        if (p.jwt.audiences === undefined && !p.jwt.allowAnyAudience) {
            out.push([
                "jwt",
                `${fullKey("jwt.audiences")} is not set for the external issuer ${shown(cfg.jwt.issuer)}: the ingress would accept a token it signs for any of its clients; ` +
                    `list the client ids this lab accepts (\`audiences: [my-client]\`), or set ${fullKey("jwt.allowAnyAudience")}: true to accept that (warned at every preview)`,
            ]);
        }
        const issuerHost = hostOf(cfg.jwt.issuer);
        const jwksHost = p.jwt.jwksUri === undefined ? undefined : hostOf(p.jwt.jwksUri);
        if (issuerHost && jwksHost && issuerHost !== jwksHost) {
            out.push([
                "jwt",
                `${fullKey("jwt.jwksUri")} = ${shown(p.jwt.jwksUri)} is on host "${jwksHost}", not the issuer's "${issuerHost}": istiod would trust keys served by another host for ${shown(cfg.jwt.issuer)}; ` +
                    "give the jwks_uri of the issuer's own discovery document (<issuer>/.well-known/openid-configuration)",
            ]);
        }
    }
    if (!p.networkPolicy.allowBroadEgress) {
        p.networkPolicy.egressCidrs.forEach((cidr, i) => {
            const reason = broadEgressReason(cidr, labAddressesOf(cfg));
            if (!reason) return;
            out.push([
                "networkPolicy",
                `${fullKey(`networkPolicy.egressCidrs[${i}]`)} = "${cidr}": ${reason}, for every pod of every segmented namespace (SPIRE's included); ` +
                    `list the outside endpoints the workloads need (a /17 or narrower, no lab machine), or set ${fullKey("networkPolicy.allowBroadEgress")}: true to accept that (warned at every preview)`,
            ]);
        });
    }
    return out;
}

/** The warnings every preview prints while an opt-in of guardProblems is in use. */
export function optInWarnings(cfg: LabConfig): string[] {
    const warnings: string[] = [];
    if (!cfg.jwt.labIssuer && cfg.jwt.audiences.length === 0 && cfg.jwt.allowAnyAudience) {
        warnings.push(
            `${fullKey("jwt.allowAnyAudience")} is true: the ingress accepts a token ${redactUserinfo(cfg.jwt.issuer)} signs for any of its clients (no audience check)`,
        );
    }
    const broad = cfg.networkPolicy.egressCidrs.filter((c) => broadEgressReason(c, labAddressesOf(cfg)) !== undefined);
    if (cfg.networkPolicy.allowBroadEgress && broad.length > 0) {
        warnings.push(
            `${fullKey("networkPolicy.allowBroadEgress")} is true: every pod of every segmented namespace, SPIRE's included, may reach ${broad.join(", ")}`,
        );
    }
    const broadWorkloads = cfg.workloads.flatMap((w) =>
        runsIn(w, cfg.cluster.name)
            ? w.egress.filter((e) => broadEgressReason(parseEgress(e)?.cidr ?? "", labAddressesOf(cfg)) !== undefined)
            : [],
    );
    if (cfg.networkPolicy.allowBroadEgress && broadWorkloads.length > 0) {
        warnings.push(
            `${fullKey("networkPolicy.allowBroadEgress")} is true: workloads of ${fullKey("workloads")} may reach ${broadWorkloads.join(", ")}`,
        );
    }
    return warnings;
}

export function crossFieldProblems(cfg: LabConfig, secretsSet: ReadonlySet<SecretKey>): string[] {
    // The versions first: a combination known not to work is refused before anything else is looked at.
    const problems: string[] = supportProblems(cfg.versions);
    if (cfg.host && !secretsSet.has("sshPrivateKey")) {
        problems.push(
            `${fullKey("sshPrivateKey")} is not set but ${fullKey("host")} is: set the SSH key with ` +
                `\`pulumi config set --secret ${fullKey("sshPrivateKey")} < ~/.ssh/id_ed25519\``,
        );
    }
    if (!cfg.host && !secretsSet.has("kubeconfig")) {
        problems.push(
            `neither ${fullKey("host")} nor ${fullKey("kubeconfig")} is set: give a host to build the cluster on, or bring your own ` +
                `cluster with \`pulumi config set --secret ${fullKey("kubeconfig")} < kubeconfig.yaml\``,
        );
    }
    if (cfg.host && secretsSet.has("kubeconfig")) {
        problems.push(
            `${fullKey("host")} and ${fullKey("kubeconfig")} are both set: remove one (a host is built by Pulumi; a kubeconfig is a cluster you bring)`,
        );
    }
    if (cfg.pki.rootCaCert !== undefined && !ownsRoot(cfg)) {
        problems.push(
            `${fullKey("pki.rootCaCert")} is set but this stack owns no root (${fullKey("pki.role")} is "peer" in the shared trust model): ` +
                `set it on the root stack${cfg.peers.length === 1 ? ` "${cfg.peers[0].stack}"` : ""} instead, and remove it here`,
        );
    }
    if (cfg.pki.rootCaCert !== undefined && !secretsSet.has("rootCaKey")) {
        problems.push(
            `${fullKey("pki.rootCaCert")} is set but its key is not: \`pulumi config set --secret ${fullKey("rootCaKey")} < root-key.pem\` ` +
                "(or remove pki.rootCaCert to have a root generated)",
        );
    }
    if (cfg.pki.rootCaCert !== undefined && ownsRoot(cfg)) {
        const use = { trustDomain: cfg.mesh.trustDomain, intermediateValidityHours: cfg.pki.intermediateValidityHours };
        for (const problem of rootUseProblems(cfg.pki.rootCaCert, use))
            problems.push(`${fullKey("pki.rootCaCert")} ${problem}`);
    }
    if (cfg.pki.rootCaCert === undefined && secretsSet.has("rootCaKey")) {
        problems.push(
            `${fullKey("rootCaKey")} is set but ${fullKey("pki.rootCaCert")} is not: set the root's certificate too, or remove the key`,
        );
    }

    const pod = parseCidr(cfg.cluster.podCidr) as Ipv4Range;
    const svc = parseCidr(cfg.cluster.serviceCidr) as Ipv4Range;
    problems.push(...rangeOverlapProblems([ownNetwork(cfg)]));

    // Cilium's "kubernetes" IPAM takes each node's podCIDR, which kube-controller-manager
    // cuts from the cluster CIDR in /24 blocks (--node-cidr-mask-size, IPv4 default 24):
    // a smaller cluster CIDR gives the node none and Cilium waits for one forever.
    if (pod.last - pod.first + 1 < 2 ** (32 - NODE_CIDR_MASK_SIZE)) {
        problems.push(
            `${fullKey("cluster.podCidr")} = "${pod.text}": expected a prefix of /${NODE_CIDR_MASK_SIZE} or shorter ` +
                `(each node gets a /${NODE_CIDR_MASK_SIZE} from it, and Cilium's kubernetes IPAM allocates pod addresses from the node's block)`,
        );
    }
    // Cluster ranges that cover the hosts' own addresses send traffic for them into the cluster.
    const hostAddresses: [string, string][] = [["registry.host", cfg.registry.host]];
    if (cfg.host) hostAddresses.push(["host.address", cfg.host.address]);
    for (const [key, range] of [
        ["cluster.podCidr", pod],
        ["cluster.serviceCidr", svc],
    ] as const) {
        const network = (cfg.host?.networks ?? []).find((n) => overlaps(range, parseCidr(n) as Ipv4Range));
        const address = hostAddresses.find(([, ip]) => containsIp(range, ip));
        if (network) {
            problems.push(
                `${fullKey(key)} = "${range.text}" overlaps ${fullKey("host.networks")} entry "${network}": cluster ranges must be disjoint from the hosts' networks`,
            );
        } else if (address) {
            problems.push(
                `${fullKey(key)} = "${range.text}" contains ${fullKey(address[0])} = "${address[1]}": cluster ranges must not cover the hosts' addresses`,
            );
        }
    }

    const pools = cfg.metallb.addresses.map((a) => parseAddressRange(a) as Ipv4Range);
    problems.push(...poolOverlapProblems([ownNetwork(cfg)]));
    for (const [key, range] of [
        ["cluster.podCidr", pod],
        ["cluster.serviceCidr", svc],
    ] as const) {
        for (const pool of pools) {
            if (overlaps(pool, range))
                problems.push(
                    `${fullKey("metallb.addresses")}: "${pool.text}" overlaps ${fullKey(key)} = "${range.text}"`,
                );
        }
    }
    if (cfg.host && cfg.host.networks.length > 0) {
        const networks = cfg.host.networks.map((n) => parseCidr(n) as Ipv4Range);
        for (const pool of pools) {
            if (!networks.some((n) => contains(n, pool))) {
                problems.push(
                    `${fullKey("metallb.addresses")}: "${pool.text}" is not inside any of ${fullKey("host.networks")} (${cfg.host.networks.join(", ")}): ` +
                        "MetalLB L2 can only answer ARP for addresses on the host's own networks",
                );
            }
        }
    }
    const gatewayAddresses: [string, string | undefined][] = [
        ["metallb.ingressAddress", cfg.metallb.ingressAddress],
        ["metallb.eastWestAddress", cfg.metallb.eastWestAddress],
        ["metallb.federationAddress", cfg.metallb.federationAddress],
    ];
    const seen = new Map<string, string>();
    for (const [key, ip] of gatewayAddresses) {
        if (ip === undefined) continue;
        if (!pools.some((p) => containsIp(p, ip))) {
            problems.push(
                `${fullKey(key)} = "${ip}" is outside ${fullKey("metallb.addresses")} (${cfg.metallb.addresses.join(", ")}): pick an address from the pool`,
            );
        }
        if (seen.has(ip))
            problems.push(
                `${fullKey(key)} = "${ip}" is already used by ${fullKey(seen.get(ip) as string)}: each gateway needs its own address`,
            );
        seen.set(ip, key);
    }
    if (cfg.mesh.trustModel === "federated" && cfg.metallb.federationAddress === undefined) {
        problems.push(
            `${fullKey("metallb.federationAddress")} is not set but ${fullKey("mesh.trustModel")} is "federated": the SPIRE bundle endpoint needs an address from the pool`,
        );
    }
    return problems;
}

/**
 * Rules between this stack's MetalLB addresses and the lab's machines, and about
 * the peer reference: MetalLB in L2 mode answers ARP for every address it hands
 * out, so an address of a host in a pool, or as a gateway address, would steal
 * that host's traffic (the API server's, SSH's, the registry's).
 */
export function labAddressProblems(cfg: LabConfig): string[] {
    const problems: string[] = [];
    const machines = Object.entries(labAddressesOf(cfg));
    const gateways: [string, string | undefined][] = [
        ["metallb.ingressAddress", cfg.metallb.ingressAddress],
        ["metallb.eastWestAddress", cfg.metallb.eastWestAddress],
        ["metallb.federationAddress", cfg.metallb.federationAddress],
    ];
    const reported = new Set<string>();
    for (const [key, ip] of gateways) {
        const machine = machines.find(([, address]) => address === ip);
        if (!ip || !machine) continue;
        reported.add(ip);
        problems.push(
            `${fullKey(key)} = "${ip}" is ${fullKey(machine[0])}: MetalLB would answer ARP for that machine's own address and take its traffic; ` +
                `pick a free address of ${fullKey("metallb.addresses")} that no host, service interface or registry uses`,
        );
    }
    // An address reported as a gateway's above is not reported again as in the pool.
    const unreported = Object.fromEntries(machines.filter(([, address]) => !reported.has(address)));
    problems.push(...machineInPoolProblems([{ ...ownNetwork(cfg), machines: unreported }]));
    return problems;
}
