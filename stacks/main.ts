// One stack = one cluster. Reads config, checks it against the peer, declares
// the layers of docs/design.md in order and exports the cross-stack protocol.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPrep } from "../components/hostprep";
import { fromChartMirror } from "../components/chart";
import { apiEndpointOf, CiliumRelease } from "../components/cilium";
import { EastWestGateway } from "../components/eastwest";
import { INGRESS_CREDENTIAL, IstioPrimary } from "../components/istio";
import { MetalLBPool } from "../components/metallb";
import { ClusterCa, ClusterTrust, Pki, SigningSubject } from "../components/pki";
import { LabIssuer } from "../components/issuer";
import { Registry } from "../components/registry";
import { RemoteSecret, RemoteSecretSource } from "../components/remotesecret";
import { ClusterSPIFFEIDs } from "../components/spiffeids";
import { SpireServer } from "../components/spire";
import {
    ClusterAccess,
    ClusterNetwork,
    MeshIdentity,
    METALLB_NAMESPACE,
    METALLB_POOL,
    PeerOutputName,
    RemoteSecretValue,
    ServiceMesh,
    SignedIntermediates,
    SigningRequests,
    SpireFederation,
    SPIRE_DATA_DIR,
} from "../model/lab";
import { ConfigError, inStackFile, LabConfig, ownsRoot } from "./config";
import { loadConfig, StackSecrets } from "./load";
import { identityOf, intermediatesProblems, peerProblems, peerVersionCheck, PeerView, readPeer, unusedByPeer } from "./peer";
import { declareSegmentation } from "./segmentation";
import { declareZeroTrust } from "./zerotrust";

/** The program: what `index.ts` exports for the Pulumi engine, and what the offline plan evaluates. */
export async function main(): Promise<Record<string, unknown>> {
    const { cfg, secrets } = loadConfig(pulumi.getStack());
    if (cfg.charts.mirror) pulumi.runtime.registerStackTransformation(fromChartMirror(cfg.charts.mirror));
    const peer = await readPeer(cfg);
    const problems = [...(peer.identity ? peerProblems(identityOf(cfg), peer.identity, cfg.peers[0].clusterName, cfg.peers[0].stack) : []), ...intermediatesProblems(cfg, peer)];
    if (problems.length > 0) throw new ConfigError(inStackFile(cfg.stack, problems));
    if (peer.identity) {
        for (const warning of peerVersionCheck(identityOf(cfg), peer.identity, cfg.peers[0].stack).warnings) pulumi.log.warn(warning);
    }
    return buildCluster(cfg, secrets, peer);
}

/**
 * Declares one cluster, layer by layer (docs/design.md, "Layers"). A layer whose
 * inputs are not there yet (the peer not deployed) is left out with a warning.
 */
export function buildCluster(cfg: LabConfig, secrets: StackSecrets, peer: PeerView): Record<string, unknown> {
    const exports: Record<string, unknown> = { identity: identityOf(cfg) };
    // The peer outputs this run declares resources from, exported as `usedFromPeer`.
    const used = new Set<PeerOutputName>(peer.identity ? ["identity"] : []);

    // This cluster's intermediate keys: made here, never exported; only their signing requests are.
    const ca = new ClusterCa(`${cfg.stack}-ca`, { clusterName: cfg.cluster.name });
    if (cfg.mesh.trustModel === "shared") exports.signingRequests = ca.signingRequests;
    const pki = ownsRoot(cfg) ? clusterPki(cfg, secrets, ca, peer, used, exports) : undefined;
    const trust = pki ? ca.trust(pki.rootCaCert, pki.signedIntermediates.apply((m) => m[cfg.cluster.name])) : peerTrust(cfg, ca, peer, used);
    if (trust) exports.rootCaCert = trust.rootCaCert;
    const registryCa = registryTrust(cfg, pki, peer, used);
    const labServers = pki && cfg.pki.role === "root";
    if (labServers) privateRegistry(cfg, secrets, pki);
    const issuer = labServers ? labIssuer(cfg, secrets, pki, exports) : undefined;

    const access = clusterAccess(cfg, secrets, registryCa);
    if (access) {
        exports.kubeconfig = access.kubeconfig;
        const network = clusterNetwork(cfg, access);
        const identity = meshIdentity(cfg, access, network, trust, peer, used);
        if (identity?.federation) exports.federation = identity.federation;
        const jwks = { jwksCaCert: jwksCaCert(cfg, registryCa), issuer };
        const mesh = istioMesh(cfg, access, network, trust, identity, peer, exports, used, jwks);
        const zeroTrust = mesh ? declareZeroTrust(cfg, access, network, identity, mesh, exports) : undefined;
        declareSegmentation(cfg, access, { network, identity, mesh, samples: zeroTrust?.samples }, peer);
    }

    exports.usedFromPeer = [...used].sort();
    const unused = unusedByPeer(cfg, peer, Object.keys(exports));
    if (unused.length > 0) {
        pulumi.log.warn(
            `peer stack "${cfg.peers[0].stack}" has not used ${unused.join(", ")} of this stack yet: run \`pulumi up\` on "${cfg.peers[0].stack}" next`,
        );
    }
    return exports;
}

/**
 * The root this stack owns and what it signs: in the shared model the root stack
 * signs this cluster's requests and the peer's (once the peer exported them); in
 * the federated model every stack signs only its own. A loop over the clusters
 * it knows; the signing requests are all it gets from them.
 */
function clusterPki(cfg: LabConfig, secrets: StackSecrets, ca: ClusterCa, peer: PeerView, used: Set<PeerOutputName>, exports: Record<string, unknown>): Pki {
    const sign: SigningSubject[] = [{ cluster: cfg.cluster.name, requests: ca.signingRequests }];
    if (cfg.mesh.trustModel === "shared" && peer.available.has("signingRequests")) {
        sign.push({ cluster: cfg.peers[0].clusterName, requests: peer.output<SigningRequests>("signingRequests") });
        used.add("signingRequests");
    }
    const brought = cfg.pki.rootCaCert;
    const pki = new Pki(`${cfg.stack}-pki`, {
        sign,
        intermediates: { validityHours: cfg.pki.intermediateValidityHours, earlyRenewalHours: cfg.pki.intermediateEarlyRenewalHours },
        // Validated: pki.rootCaCert requires the secret rootCaKey (stacks/config.ts).
        root: brought !== undefined ? { certPem: brought, keyPem: secrets.rootCaKey as pulumi.Output<string> } : undefined,
    });
    if (cfg.mesh.trustModel === "shared") exports.signedIntermediates = pki.signedIntermediates;
    return pki;
}

/**
 * A peer-role stack of the shared model: this cluster's own keys with the
 * certificates the root stack signed for them (`signedIntermediates`) and the
 * root (`rootCaCert`); absent, with a warning, until the root stack has signed.
 */
function peerTrust(cfg: LabConfig, ca: ClusterCa, peer: PeerView, used: Set<PeerOutputName>): ClusterTrust | undefined {
    const name = cfg.cluster.name;
    const signed = peer.plain<Record<string, SignedIntermediates>>("signedIntermediates");
    if (!peer.available.has("rootCaCert") || signed?.[name] === undefined) {
        pulumi.log.warn(
            `pki.role is "peer" and root stack "${cfg.peers[0].stack}" has not signed this cluster's intermediates (${name}) yet: ` +
                `everything that needs them (Istio's CA, SPIRE) is left out; run \`pulumi up\` on "${cfg.peers[0].stack}", then here again`,
        );
        return undefined;
    }
    used.add("rootCaCert");
    used.add("signedIntermediates");
    return ca.trust(peer.output<string>("rootCaCert"), peer.output<Record<string, SignedIntermediates>>("signedIntermediates").apply((m) => m[name]));
}

/**
 * The root the lab registry's certificate chains to, for the nodes' containerd:
 * the root stack's own, or the one it exports. In the federated model that is
 * the root stack's trust-domain root; the nodes trust it for the registry only.
 */
function registryTrust(cfg: LabConfig, pki: Pki | undefined, peer: PeerView, used: Set<PeerOutputName>): pulumi.Output<string> | undefined {
    if (cfg.pki.role === "root") return pki?.rootCaCert;
    if (!peer.available.has("rootCaCert")) return undefined;
    used.add("rootCaCert");
    return peer.output<string>("rootCaCert");
}

/** What istiod trusts for the OIDC issuer's JWKS, and the lab issuer it waits for when this stack runs it. */
export interface JwksTrust {
    readonly jwksCaCert?: pulumi.Input<string>;
    readonly issuer?: LabIssuer;
}

/**
 * The CA istiod trusts when it fetches the JWKS: an external issuer's own CA
 * (`jwt.caCert`), else the root the lab issuer's certificate chains to. That
 * is the root stack's root, as for the registry (in the federated model not
 * this stack's own trust-domain root); unknown, with a warning, until the root
 * stack is deployed.
 */
function jwksCaCert(cfg: LabConfig, labRoot: pulumi.Output<string> | undefined): pulumi.Input<string> | undefined {
    if (cfg.jwt.caCert !== undefined) return cfg.jwt.caCert;
    if (!labRoot) {
        pulumi.log.warn(
            `the lab issuer's root (root stack "${cfg.peers[0].stack}") is not known yet: istiod trusts only the system roots for ${cfg.jwt.jwksUri} ` +
                "until the next `pulumi up` here after the root stack",
        );
    }
    return labRoot;
}

/**
 * SPIRE and the ClusterSPIFFEIDs: every mesh identity, chained to the cluster's
 * SPIRE intermediate. In the federated trust model also the bundle endpoint for
 * the peer, and a ClusterFederatedTrustDomain for the peer once it exported its own.
 */
function meshIdentity(
    cfg: LabConfig,
    access: ClusterAccess,
    network: ClusterNetwork | undefined,
    trust: ClusterTrust | undefined,
    peer: PeerView,
    used: Set<PeerOutputName>,
): MeshIdentity | undefined {
    if (!trust) {
        pulumi.log.warn("SPIRE is left out: it needs the cluster's SPIRE intermediate from the lab PKI, which is not available yet");
        return undefined;
    }
    const federated = cfg.mesh.trustModel === "federated";
    if (federated && peer.available.has("federation")) used.add("federation");
    const server = new SpireServer(`${cfg.stack}-spire`, {
        provider: access.provider,
        trustDomain: cfg.mesh.trustDomain,
        clusterName: cfg.cluster.name,
        versions: { crds: cfg.versions.spireCrds, spire: cfg.versions.spire },
        upstreamCa: trust.intermediates.apply((i) => i.spire),
        cni: network?.cni,
        // A host HostPrep builds has no StorageClass: a local volume in the directory HostPrep made.
        localDataPath: cfg.host ? SPIRE_DATA_DIR : undefined,
        oidcDiscovery: cfg.spire.oidcDiscovery,
        federation: federated
            ? {
                  // Validated: the federated model requires metallb.federationAddress (stacks/config.ts).
                  address: cfg.metallb.federationAddress as string,
                  loadBalancer: network?.loadBalancer ?? [],
                  rootCaCert: trust.rootCaCert,
                  peerName: cfg.peers[0].clusterName,
                  // Absent until the peer is deployed (readPeer warns): the ClusterFederatedTrustDomain waits for it.
                  peer: peer.available.has("federation") ? peer.output<SpireFederation>("federation") : undefined,
              }
            : undefined,
    });
    const ids = new ClusterSPIFFEIDs(`${cfg.stack}-spiffeids`, { provider: access.provider, server });
    return { ready: [...server.ready, ...ids.ids], federation: server.federation };
}

/**
 * The private registry on comp1, declared by the root stack (it holds the root
 * CA key that signs the registry's certificate) and only when it builds hosts:
 * a bring-your-own stack has no SSH key.
 */
function privateRegistry(cfg: LabConfig, secrets: StackSecrets, pki: Pki): Registry | undefined {
    if (!cfg.host || !secrets.sshPrivateKey) return undefined;
    return new Registry(`${cfg.stack}-registry`, {
        address: cfg.registry.host,
        port: cfg.registry.port,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        rootCaCert: pki.rootCaCert,
        rootCaKey: pki.rootCaKey,
        allowRemove: cfg.registry.allowRemove,
    });
}

/**
 * The lab's OIDC issuer (Keycloak) on comp1, declared like the registry by the
 * root stack (its root key signs the issuer's certificate) when it builds
 * hosts and `jwt.issuer` is the lab's own. Exports what `verify` needs to get a
 * token by itself: `issuer` (URL, token endpoint, client id), and the client
 * secret and admin password as secrets.
 */
function labIssuer(cfg: LabConfig, secrets: StackSecrets, pki: Pki, exports: Record<string, unknown>): LabIssuer | undefined {
    if (!cfg.jwt.labIssuer || !cfg.host || !secrets.sshPrivateKey) return undefined;
    const issuer = new LabIssuer(`${cfg.stack}-issuer`, {
        address: cfg.registry.host,
        port: cfg.issuer.port,
        realm: cfg.issuer.realm,
        clientId: cfg.issuer.clientId,
        image: cfg.issuer.image,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        rootCaCert: pki.rootCaCert,
        rootCaKey: pki.rootCaKey,
    });
    exports.issuer = { url: issuer.url, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId };
    exports.issuerClientSecret = issuer.clientSecret;
    exports.issuerAdminPassword = issuer.adminPassword;
    return issuer;
}

/** The cluster's admin kubeconfig (secret), exported as the stack output `kubeconfig` for kubectl and verify. */
interface AdminKubeconfig {
    readonly kubeconfig: pulumi.Output<string>;
}

/** The Kubernetes provider for this cluster: from a host Pulumi builds, or from a kubeconfig the user brings. */
function clusterAccess(cfg: LabConfig, secrets: StackSecrets, registryCa: pulumi.Output<string> | undefined): (ClusterAccess & AdminKubeconfig) | undefined {
    if (cfg.host && secrets.sshPrivateKey) {
        const host = cfg.host;
        if (!registryCa) {
            pulumi.log.warn(
                `${cfg.stack}: the lab root CA is not known yet, so ${host.address} is prepared without trusting it ` +
                    `(images from the registry at ${cfg.registry.host}:${cfg.registry.port} will not pull); the next \`pulumi up\` after the root stack adds it`,
            );
        }
        const prep = new HostPrep(`${cfg.stack}-hostprep`, {
            host,
            sshPrivateKey: secrets.sshPrivateKey,
            kubernetesVersion: cfg.versions.kubernetes,
            podCidr: cfg.cluster.podCidr,
            serviceCidr: cfg.cluster.serviceCidr,
            kubeProxy: !cfg.cilium.kubeProxyReplacement,
            registry: `${cfg.registry.host}:${cfg.registry.port}`,
            rootCaCert: registryCa,
            localVolumeDirs: [SPIRE_DATA_DIR],
        });
        // The kubeconfig is HostPrep's output: the provider waits for the cluster through it.
        const kubeconfig = prep.kubeconfig;
        return { provider: new k8s.Provider(`${cfg.stack}-k8s`, { kubeconfig }), apiServer: prep.apiServer, kubeconfig };
    }
    if (cfg.host === undefined && secrets.kubeconfig) {
        const kubeconfig = secrets.kubeconfig;
        return {
            provider: new k8s.Provider(`${cfg.stack}-k8s`, { kubeconfig }),
            apiServer: kubeconfig.apply(serverOf),
            kubeconfig,
        };
    }
    return undefined;
}

/** Cilium, then MetalLB with this stack's pool: what pods and LoadBalancer Services wait for. */
function clusterNetwork(cfg: LabConfig, access: ClusterAccess): ClusterNetwork {
    const provider = access.provider;
    // Cilium dials the API server directly: on a host, kubeadm's on the management address and
    // its default port; when bringing your own, the kubeconfig's server (its URL is not secret).
    const apiServer = cfg.host ? { host: cfg.host.address, port: 6443 } : pulumi.unsecret(access.apiServer).apply(apiEndpointOf);
    const cilium = new CiliumRelease(`${cfg.stack}-cilium`, {
        provider,
        version: cfg.versions.cilium,
        clusterName: cfg.cluster.name,
        clusterId: cfg.cluster.id,
        kubeProxyReplacement: cfg.cilium.kubeProxyReplacement,
        bgpControlPlane: cfg.cilium.bgpControlPlane,
        apiServer,
        devices: cfg.cilium.devices,
    });
    const metallb = new MetalLBPool(`${cfg.stack}-metallb`, {
        provider,
        version: cfg.versions.metallb,
        namespace: METALLB_NAMESPACE,
        poolName: METALLB_POOL,
        addresses: cfg.metallb.addresses,
        cni: cilium.release,
        interfaces: cfg.metallb.interfaces,
    });
    return { cni: cilium.release, loadBalancer: [metallb.release, metallb.pool, metallb.advertisement] };
}

/** The API server URL of a kubeconfig's current context. */
function serverOf(kubeconfig: string): string {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new ConfigError(["zta-testbed:kubeconfig has no current context with a cluster server: give a kubeconfig with current-context set"]);
    return server;
}

/**
 * Istio multi-primary on different networks (docs/istio.md: IstioPrimary,
 * EastWestGateway, RemoteSecret). Exports `remoteSecret` and `eastWestAddress`
 * for the peer and installs the peer's `remoteSecret` once the peer exports it.
 * The remote-secret exchange needs only istio-system and the `base` chart (its
 * reader account), not the PKI: without this cluster's intermediates (peer role,
 * root stack not signed yet) those are declared and istiod and the gateways are
 * left out, since istiod must not start on a self-signed root.
 */
export function istioMesh(
    cfg: LabConfig,
    access: ClusterAccess,
    network: ClusterNetwork | undefined,
    trust: ClusterTrust | undefined,
    identity: MeshIdentity | undefined,
    peer: PeerView,
    exports: Record<string, unknown>,
    used: Set<PeerOutputName> = new Set(),
    jwks: JwksTrust = {},
): ServiceMesh | undefined {
    if (!trust) {
        pulumi.log.warn("istiod and the gateways are left out: they need this cluster's intermediate CA, which is not signed yet (the remote secrets are exchanged already)");
    } else if (!identity) {
        pulumi.log.warn(
            "no SPIRE layer in this stack: the gateways mount the SPIFFE CSI socket and wait for it, so they will not become ready until SPIRE runs",
        );
    }
    const provider = access.provider;
    // Federated model: workloads of the peer's trust domain are accepted as this mesh's (istio#57399).
    const trustDomainAliases = cfg.mesh.trustModel === "federated" && peer.identity ? [peer.identity.trustDomain] : [];
    const primary = new IstioPrimary(`${cfg.stack}-istio`, {
        provider,
        version: cfg.versions.istio,
        clusterName: cfg.cluster.name,
        network: cfg.cluster.network,
        meshId: cfg.mesh.id,
        trustDomain: cfg.mesh.trustDomain,
        trustDomainAliases,
        ca: trust ? { istioCa: trust.intermediates.apply((i) => i.istio) } : undefined,
        jwksCaCert: jwks.jwksCaCert,
        issuer: jwks.issuer,
        ingressAddress: cfg.metallb.ingressAddress,
        ingressTls: cfg.ingress,
        clusterNetwork: network,
        identity,
    });
    if (primary.istiod) {
        new EastWestGateway(`${cfg.stack}-eastwest`, {
            provider,
            version: cfg.versions.istio,
            namespace: primary.namespace,
            network: cfg.cluster.network,
            address: cfg.metallb.eastWestAddress,
            istiod: primary.istiod,
            clusterNetwork: network,
            identity,
        });
        exports.eastWestAddress = cfg.metallb.eastWestAddress;
    }

    const source = new RemoteSecretSource(`${cfg.stack}-istio-reader`, {
        provider,
        namespace: primary.namespace,
        clusterName: cfg.cluster.name,
        apiServer: access.apiServer,
        readerAccount: primary.base,
    });
    exports.remoteSecret = source.remoteSecret;

    // Before the peer exports it, readPeer has warned; nothing is installed.
    if (peer.available.has("remoteSecret")) {
        used.add("remoteSecret");
        new RemoteSecret(`${cfg.stack}-remote-${cfg.peers[0].clusterName}`, {
            provider,
            namespace: primary.namespace,
            peerClusterName: cfg.peers[0].clusterName,
            remoteSecret: peer.output<RemoteSecretValue>("remoteSecret"),
        });
    }
    if (!primary.istiod || !primary.ingressCredential) return undefined;
    return {
        control: [primary.base, primary.istiod],
        ingressSelector: primary.ingressSelector,
        ingressTls: { credentialName: INGRESS_CREDENTIAL, credential: primary.ingressCredential, plainHttp: cfg.ingress.plainHttp },
    };
}
