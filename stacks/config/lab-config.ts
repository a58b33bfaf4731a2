// The validated configuration of one stack (LabConfig): what the schema parsed,
// with every default that depends on another key filled in. What the program,
// the offline plan and verify pass down.
import { LabWorkload } from "../../model/lab";
import { peersOf } from "./roster";
import { Parsed } from "./schema";

/** The lab issuer's realm URL: what tokens carry as `iss`. */
export function labIssuerUrl(host: string, issuer: Pick<Parsed["issuer"], "port" | "realm">): string {
    return `https://${host}:${issuer.port}/realms/${issuer.realm}`;
}

/** The validated configuration of one stack, with every default that depends on another key filled in. */
export function resolve(stack: string, p: Parsed) {
    const { trustDomain: ownTrustDomain, ...cluster } = p.cluster;
    const labUrl = labIssuerUrl(p.registry.host, p.issuer);
    const issuerUrl = p.jwt.issuer ?? labUrl;
    const labIssuer = issuerUrl === labUrl;
    const workloads: readonly LabWorkload[] = p.workloads ?? [];
    return {
        stack,
        cluster,
        /** Set when Pulumi builds the cluster on a bare host; absent for bring-your-own. */
        host: p.host,
        mesh: { ...p.mesh, trustDomain: ownTrustDomain ?? p.mesh.trustDomain },
        metallb: {
            ...p.metallb,
            interfaces: p.metallb.interfaces ?? (p.host?.managementInterface ? [p.host.managementInterface] : []),
        },
        versions: p.versions,
        registry: { ...p.registry, sshUser: p.registry.sshUser ?? p.host?.sshUser ?? "ubuntu" },
        jwt: {
            issuer: issuerUrl,
            // Empty only for an external issuer without one, which is refused (jwtProblems).
            jwksUri: p.jwt.jwksUri ?? (labIssuer ? `${labUrl}/protocol/openid-connect/certs` : ""),
            audiences: p.jwt.audiences ?? (labIssuer ? [p.issuer.clientId] : []),
            caCert: p.jwt.caCert,
            allowAnyAudience: p.jwt.allowAnyAudience,
            /** True when `issuer` is the lab's own issuer (Keycloak on comp1, run by the root stack). */
            labIssuer,
        },
        issuer: p.issuer,
        /** Every other stack of the lab: the roster without this stack. */
        peers: peersOf(stack, p.roster),
        pki: p.pki,
        addons: p.addons,
        samples: p.samples,
        cilium: {
            ...p.cilium,
            devices:
                p.cilium.devices ??
                [p.host?.managementInterface, p.host?.serviceInterface].filter((d): d is string => d !== undefined),
        },
        spire: p.spire,
        charts: p.charts,
        ingress: p.ingress,
        networkPolicy: p.networkPolicy,
        /** The lab's own workloads (`workloads`), each running in its `cluster` or in every one. */
        workloads,
    };
}

/** The validated configuration of one stack (one cluster). */
export type LabConfig = Readonly<ReturnType<typeof resolve>>;

/** Whether this stack owns a root CA: the root stack of the shared model, every stack of the federated one. */
export function ownsRoot(cfg: Pick<LabConfig, "pki" | "mesh">): boolean {
    return cfg.pki.role === "root" || cfg.mesh.trustModel === "federated";
}

/** The addresses of the lab's machines this stack knows: its host's and the registry's. */
export function labAddressesOf(cfg: LabConfig): Record<string, string> {
    const addresses: Record<string, string> = { "registry.host": cfg.registry.host };
    if (cfg.host) addresses["host.address"] = cfg.host.address;
    if (cfg.host?.serviceAddress) addresses["host.serviceAddress"] = cfg.host.serviceAddress;
    return addresses;
}
