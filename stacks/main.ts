// One stack = one cluster. Reads config, checks it against the peer, declares
// the layers of DESIGN.md in order and exports the cross-stack protocol.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPrep } from "../components/hostprep";
import { apiEndpointOf, CiliumRelease } from "../components/cilium";
import { EastWestGateway } from "../components/eastwest";
import { INGRESS_CREDENTIAL, IstioPrimary } from "../components/istio";
import { MetalLBPool } from "../components/metallb";
import { ClusterIntermediates, ClusterTrust, Pki } from "../components/pki";
import { LabIssuer } from "../components/issuer";
import { Registry } from "../components/registry";
import { RemoteSecret, RemoteSecretSource, RemoteSecretValue } from "../components/remotesecret";
import { ClusterSPIFFEIDs } from "../components/spiffeids";
import { SpireServer } from "../components/spire";
import { ConfigError, LabConfig } from "./config";
import { loadConfig, StackSecrets } from "./load";
import { ClusterAccess, ClusterNetwork, MeshIdentity, METALLB_NAMESPACE, METALLB_POOL, ServiceMesh } from "./layers";
import { identityOf, peerProblems, PeerView, readPeer, SpireFederation } from "./peer";
import { declareSegmentation } from "./segmentation";
import { declareZeroTrust } from "./zerotrust";

/** The program: what `index.ts` exports for the Pulumi engine, and what the offline plan evaluates. */
export async function main(): Promise<Record<string, unknown>> {
    const { cfg, secrets } = loadConfig(pulumi.getStack());
    const peer = await readPeer(cfg);
    if (peer.identity) {
        const problems = peerProblems(identityOf(cfg), peer.identity, cfg.peer.clusterName, cfg.peer.stack);
        if (problems.length > 0) throw new ConfigError(problems);
    }
    return buildCluster(cfg, secrets, peer);
}

/**
 * Declares one cluster, layer by layer (DESIGN.md, "Layers"). A layer whose
 * inputs are not there yet (the peer not deployed) is left out with a warning.
 */
export function buildCluster(cfg: LabConfig, secrets: StackSecrets, peer: PeerView): Record<string, unknown> {
    const exports: Record<string, unknown> = { identity: identityOf(cfg) };

    const pki = cfg.pki.role === "root" ? labPki(cfg, exports) : undefined;
    const trust = pki ? pki.trustFor(cfg.cluster.name) : peerTrust(cfg, peer);
    if (trust) exports.rootCaCert = trust.rootCaCert;
    if (pki) privateRegistry(cfg, secrets, pki);
    const issuer = pki ? labIssuer(cfg, secrets, pki, exports) : undefined;

    const access = clusterAccess(cfg, secrets, trust);
    if (!access) return exports;
    exports.kubeconfig = access.kubeconfig;
    const network = clusterNetwork(cfg, access);

    const identity = meshIdentity(cfg, access, network, trust, peer);
    if (identity?.federation) exports.federation = identity.federation;
    const mesh = istioMesh(cfg, access, network, trust, identity, peer, exports, issuer);
    const zeroTrust = mesh ? declareZeroTrust(cfg, access, network, identity, mesh, exports) : undefined;
    declareSegmentation(cfg, access, { network, identity, mesh, samples: zeroTrust?.samples }, peer);

    return exports;
}

/** The root stack owns the PKI and issues intermediates for both clusters. */
function labPki(cfg: LabConfig, exports: Record<string, unknown>): Pki {
    const pki = new Pki(`${cfg.stack}-pki`, { clusters: [cfg.cluster.name, cfg.peer.clusterName], organization: "zta-testbed" });
    exports.intermediates = pki.intermediates;
    return pki;
}

/** The peer stack takes its trust from the root stack's `rootCaCert` and `intermediates` outputs. */
function peerTrust(cfg: LabConfig, peer: PeerView): ClusterTrust | undefined {
    if (!peer.available.has("rootCaCert") || !peer.available.has("intermediates")) {
        pulumi.log.warn(
            `pki.role is "peer" and root stack "${cfg.peer.stack}" has no rootCaCert/intermediates yet: ` +
                "everything that needs the lab PKI (Istio, SPIRE, registry trust) is left out until it is deployed",
        );
        return undefined;
    }
    const name = cfg.cluster.name;
    const intermediates = peer.output<Record<string, ClusterIntermediates>>("intermediates").apply((all) => {
        if (!all[name]) {
            throw new ConfigError([`root stack "${cfg.peer.stack}" issued no intermediates for cluster "${name}": set its zta-testbed:peer.clusterName to "${name}"`]);
        }
        return all[name];
    });
    return { rootCaCert: peer.output<string>("rootCaCert"), intermediates: pulumi.secret(intermediates) };
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
): MeshIdentity | undefined {
    if (!trust) {
        pulumi.log.warn("SPIRE is left out: it needs the cluster's SPIRE intermediate from the lab PKI, which is not available yet");
        return undefined;
    }
    const federated = cfg.mesh.trustModel === "federated";
    const server = new SpireServer(`${cfg.stack}-spire`, {
        provider: access.provider,
        trustDomain: cfg.mesh.trustDomain,
        clusterName: cfg.cluster.name,
        versions: { crds: cfg.versions.spireCrds, spire: cfg.versions.spire },
        upstreamCa: trust.intermediates.apply((i) => i.spire),
        cni: network?.cni,
        oidcDiscovery: cfg.spire.oidcDiscovery,
        federation: federated
            ? {
                  // Validated: the federated model requires metallb.federationAddress (stacks/config.ts).
                  address: cfg.metallb.federationAddress as string,
                  loadBalancer: network?.loadBalancer ?? [],
                  rootCaCert: trust.rootCaCert,
                  peerName: cfg.peer.clusterName,
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
function clusterAccess(cfg: LabConfig, secrets: StackSecrets, trust: ClusterTrust | undefined): (ClusterAccess & AdminKubeconfig) | undefined {
    if (cfg.host && secrets.sshPrivateKey) {
        const host = cfg.host;
        if (!trust) {
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
            rootCaCert: trust?.rootCaCert,
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
 * Istio multi-primary on different networks (DESIGN.md: IstioPrimary,
 * EastWestGateway, RemoteSecret). Exports `remoteSecret` and `eastWestAddress`
 * for the peer and installs the peer's `remoteSecret` once the peer exports it.
 * Without the lab PKI (peer role, root stack not deployed) Istio is left out:
 * istiod must not start on a self-signed root.
 */
export function istioMesh(
    cfg: LabConfig,
    access: ClusterAccess,
    network: ClusterNetwork | undefined,
    trust: ClusterTrust | undefined,
    identity: MeshIdentity | undefined,
    peer: PeerView,
    exports: Record<string, unknown>,
    issuer?: LabIssuer,
): ServiceMesh | undefined {
    if (!trust) {
        pulumi.log.warn("Istio is left out: it needs this cluster's intermediate CA from the lab PKI, which is not there yet");
        return undefined;
    }
    if (!identity) {
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
        istioCa: trust.intermediates.apply((i) => i.istio),
        // The lab issuer's certificate comes from the lab root; an external issuer's from the CA the config names.
        jwksCaCert: cfg.jwt.caCert ?? trust.rootCaCert,
        issuer,
        ingressAddress: cfg.metallb.ingressAddress,
        ingressTls: cfg.ingress,
        clusterNetwork: network,
        identity,
    });
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
        new RemoteSecret(`${cfg.stack}-remote-${cfg.peer.clusterName}`, {
            provider,
            namespace: primary.namespace,
            peerClusterName: cfg.peer.clusterName,
            remoteSecret: peer.output<RemoteSecretValue>("remoteSecret"),
        });
    }
    return {
        control: [primary.base, primary.istiod],
        ingressSelector: primary.ingressSelector,
        ingressTls: { credentialName: INGRESS_CREDENTIAL, credential: primary.ingressCredential, plainHttp: cfg.ingress.plainHttp },
    };
}
