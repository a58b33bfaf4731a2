// One stack = one cluster. Reads config, checks it against its peers, declares
// the layers of docs/design.md in order and exports the cross-stack protocol.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPrep } from "../components/hostprep";
import { fromChartMirror } from "../components/chart";
import { apiEndpointOf, CiliumRelease } from "../components/cilium";
import { EastWestGateway } from "../components/eastwest";
import { INGRESS_CREDENTIAL, IstioFederation, IstioPrimary } from "../components/istio";
import { MetalLBPool } from "../components/metallb";
import { ClusterCa, ClusterTrust, LabServicesCa, Pki, SigningSubject } from "../components/pki";
import { LabIssuer } from "../components/issuer";
import { Registry } from "../components/registry";
import { RemoteSecret, RemoteSecretSource } from "../components/remotesecret";
import { ClusterSPIFFEIDs } from "../components/spiffeids";
import { SpireServer } from "../components/spire";
import { optInWarnings } from "./config/cross-field";
import { LabConfig, ownsRoot } from "./config/lab-config";
import { ConfigError, inStackFile } from "./config/messages";
import { loadConfig, StackSecrets } from "./config/load";
import {
    ClusterAccess,
    ClusterNetwork,
    MeshIdentity,
    METALLB_NAMESPACE,
    METALLB_POOL,
    RemoteSecretValue,
    ServiceMesh,
    SignedIntermediates,
    SigningRequests,
    SpireFederation,
    SPIRE_DATA_DIR,
    StackOutputs,
} from "../model/lab";
import { identityOf, intermediatesProblems, labViewProblems, PeerUse, peerVersionCheck, PeerView, readPeers, rootPeerOf, rootStackLabel, unusedByPeer } from "./peer";
import { declareSegmentation } from "./segmentation";
import { declareZeroTrust } from "./zerotrust";

/** The program: what `index.ts` exports for the Pulumi engine, and what the offline plan evaluates. */
export async function main(): Promise<StackOutputs> {
    const { cfg, secrets } = loadConfig(pulumi.getStack());
    // An opt-in that weakens zero trust is said at every preview, not only when it was set.
    for (const warning of optInWarnings(cfg)) pulumi.log.warn(warning);
    if (cfg.charts.mirror) pulumi.runtime.registerStackTransformation(fromChartMirror(cfg.charts.mirror));
    const peers = await readPeers(cfg);
    const problems = [...labViewProblems(cfg, peers), ...intermediatesProblems(cfg, rootPeerOf(cfg, peers))];
    if (problems.length > 0) throw new ConfigError(inStackFile(cfg.stack, problems));
    for (const peer of peers) {
        if (peer.identity) for (const warning of peerVersionCheck(identityOf(cfg), peer.identity, peer.stack).warnings) pulumi.log.warn(warning);
    }
    return buildCluster(cfg, secrets, peers);
}

/**
 * Declares one cluster, layer by layer (docs/design.md, "Layers"), and returns its
 * stack outputs. A layer whose inputs are not there yet (a peer not deployed)
 * is left out with a warning.
 */
export function buildCluster(cfg: LabConfig, secrets: StackSecrets, peers: readonly PeerView[]): StackOutputs {
    // The peer outputs this run declares resources from, exported as `usedFromPeer`.
    const used = new PeerUse(peers);

    // This cluster's intermediate keys: made here, never exported; only their signing requests are.
    const ca = new ClusterCa(`${cfg.stack}-ca`, { clusterName: cfg.cluster.name });
    const pki = ownsRoot(cfg) ? clusterPki(cfg, secrets, ca, peers, used) : undefined;
    const trust = pki
        ? ca.trust(
              pki.rootCaCert,
              pki.signedIntermediates.apply((m) => m[cfg.cluster.name]),
          )
        : peerTrust(cfg, ca, peers, used);
    // comp1's servers (registry, issuer) get their certificates from a CA of their own, not from the mesh root.
    const servicesCa = cfg.pki.role === "root" ? new LabServicesCa(`${cfg.stack}-lab-services-ca`) : undefined;
    const labServicesCa = labServicesTrust(cfg, servicesCa, peers, used);
    const registry = servicesCa ? privateRegistry(cfg, secrets, servicesCa) : undefined;
    const issuer = servicesCa ? labIssuer(cfg, secrets, servicesCa) : undefined;

    const access = clusterAccess(cfg, secrets, labServicesCa);
    let cluster: Partial<StackOutputs> = {};
    if (access) {
        const network = clusterNetwork(cfg, access);
        const identity = meshIdentity(cfg, access, network, trust, peers, used);
        const jwks = { jwksCaCert: jwksCaCert(cfg, peers, labServicesCa), issuer };
        const mesh = istioMesh(cfg, access, network, trust, identity, peers, used, jwks);
        // Federated model: the peers' trust domains, once they are deployed (their `identity` says which).
        const peerTrustDomains = cfg.mesh.trustModel === "federated" ? peers.flatMap((p) => (p.identity ? [p.identity.trustDomain] : [])) : [];
        const zeroTrust = mesh.serviceMesh ? declareZeroTrust(cfg, access, network, identity, mesh.serviceMesh, peerTrustDomains) : undefined;
        declareSegmentation(cfg, access, { network, identity, mesh: mesh.serviceMesh, samples: zeroTrust?.samples }, peers);
        cluster = {
            kubeconfig: access.kubeconfig,
            federation: identity?.federation,
            remoteSecret: mesh.remoteSecret,
            eastWestAddress: mesh.eastWestAddress,
            grafanaAdminPassword: zeroTrust?.addons?.grafanaAdminPassword,
        };
    }

    const outputs: StackOutputs = withoutUnset({
        identity: identityOf(cfg),
        signingRequests: cfg.mesh.trustModel === "shared" ? ca.signingRequests : undefined,
        signedIntermediates: pki && cfg.mesh.trustModel === "shared" ? pki.signedIntermediates : undefined,
        rootCaCert: trust?.rootCaCert,
        labServicesCaCert: servicesCa?.certPem,
        ...cluster,
        ...(issuer
            ? {
                  issuer: { url: issuer.url, tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, otherClientId: issuer.otherClientId },
                  issuerClientSecret: issuer.clientSecret,
                  issuerOtherClientSecret: issuer.otherClientSecret,
              }
            : {}),
        ...(registry ? { registry: { endpoint: registry.endpoint, pushUser: registry.pushUser }, registryPushPassword: registry.pushPassword } : {}),
        usedFromPeer: used.output(),
    });
    for (const peer of peers) {
        const unused = unusedByPeer(cfg, peer, peers.length, Object.keys(outputs));
        if (unused.length > 0) pulumi.log.warn(`peer stack "${peer.stack}" has not used ${unused.join(", ")} of this stack yet: run \`pulumi up\` on "${peer.stack}" next`);
    }
    return outputs;
}

/** The outputs that are set: an absent output is left out of the stack, not exported as undefined. */
function withoutUnset(outputs: StackOutputs): StackOutputs {
    return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)) as unknown as StackOutputs;
}

/**
 * The root this stack owns and what it signs: in the shared model the root stack
 * signs this cluster's requests and every peer's (once that peer exported them),
 * each under the peer's cluster name; in the federated model every stack signs
 * only its own. The signing requests are all it gets from the other clusters.
 */
function clusterPki(cfg: LabConfig, secrets: StackSecrets, ca: ClusterCa, peers: readonly PeerView[], used: PeerUse): Pki {
    const sign: SigningSubject[] = [{ cluster: cfg.cluster.name, requests: ca.signingRequests }];
    for (const peer of cfg.mesh.trustModel === "shared" ? peers : []) {
        if (!peer.available.has("signingRequests")) continue;
        sign.push({ cluster: peer.clusterName, requests: peer.output<SigningRequests>("signingRequests") });
        used.mark(peer, "signingRequests");
    }
    const brought = cfg.pki.rootCaCert;
    const pki = new Pki(`${cfg.stack}-pki`, {
        trustDomain: cfg.mesh.trustDomain,
        sign,
        intermediates: { validityHours: cfg.pki.intermediateValidityHours, earlyRenewalHours: cfg.pki.intermediateEarlyRenewalHours },
        // Validated: pki.rootCaCert requires the secret rootCaKey (stacks/config.ts).
        root: brought !== undefined ? { certPem: brought, keyPem: secrets.rootCaKey as pulumi.Output<string> } : undefined,
    });
    return pki;
}

/**
 * A peer-role stack of the shared model: this cluster's own keys with the
 * certificates the root stack signed for them (`signedIntermediates`) and the
 * root (`rootCaCert`), from whichever peer is the root stack; absent, with a
 * warning, until the root stack has signed.
 */
function peerTrust(cfg: LabConfig, ca: ClusterCa, peers: readonly PeerView[], used: PeerUse): ClusterTrust | undefined {
    const name = cfg.cluster.name;
    const root = rootPeerOf(cfg, peers);
    const signed = root?.plain<Record<string, SignedIntermediates>>("signedIntermediates");
    if (!root || !root.available.has("rootCaCert") || signed?.[name] === undefined) {
        const which = rootStackLabel(cfg, peers);
        pulumi.log.warn(
            `pki.role is "peer" and ${which} has not signed this cluster's intermediates (${name}) yet: ` +
                `everything that needs them (Istio's CA, SPIRE) is left out; run \`pulumi up\` on the ${which.replace(/^the /, "")}, then here again`,
        );
        return undefined;
    }
    used.mark(root, "rootCaCert");
    used.mark(root, "signedIntermediates");
    return ca.trust(
        root.output<string>("rootCaCert"),
        root.output<Record<string, SignedIntermediates>>("signedIntermediates").apply((m) => m[name]),
    );
}

/**
 * The lab-services CA, which signs comp1's server certificates (registry,
 * issuer) and nothing else: this stack's own in the root role, else the one the
 * root stack exports (`labServicesCaCert`), in either trust model. The nodes'
 * containerd trusts it for the registry only, istiod for the JWKS fetch only.
 */
function labServicesTrust(cfg: LabConfig, servicesCa: LabServicesCa | undefined, peers: readonly PeerView[], used: PeerUse): pulumi.Output<string> | undefined {
    if (servicesCa) return servicesCa.certPem;
    const root = rootPeerOf(cfg, peers);
    if (!root?.available.has("labServicesCaCert")) return undefined;
    used.mark(root, "labServicesCaCert");
    return root.output<string>("labServicesCaCert");
}

/** What istiod trusts for the OIDC issuer's JWKS, and the lab issuer it waits for when this stack runs it. */
export interface JwksTrust {
    readonly jwksCaCert?: pulumi.Input<string>;
    readonly issuer?: LabIssuer;
}

/**
 * The CA istiod trusts when it fetches the JWKS: an external issuer's own CA
 * (`jwt.caCert`), else the lab-services CA, which signed the lab issuer's
 * certificate (the root stack's, in either trust model; never a mesh root);
 * unknown, with a warning, until the root stack is deployed.
 */
function jwksCaCert(cfg: LabConfig, peers: readonly PeerView[], labServicesCa: pulumi.Output<string> | undefined): pulumi.Input<string> | undefined {
    if (cfg.jwt.caCert !== undefined) return cfg.jwt.caCert;
    if (!labServicesCa) {
        pulumi.log.warn(
            `the lab issuer's CA, the lab-services CA of ${rootStackLabel(cfg, peers)}, is not known yet: istiod trusts only the system roots for ${cfg.jwt.jwksUri} ` +
                "until the next `pulumi up` here after the root stack",
        );
    }
    return labServicesCa;
}

/**
 * SPIRE and the ClusterSPIFFEIDs: every mesh identity, chained to the cluster's
 * SPIRE intermediate. In the federated trust model also the bundle endpoint for
 * the peers, and a ClusterFederatedTrustDomain for each peer once it exported its own.
 */
function meshIdentity(cfg: LabConfig, access: ClusterAccess, network: ClusterNetwork | undefined, trust: ClusterTrust | undefined, peers: readonly PeerView[], used: PeerUse): MeshIdentity | undefined {
    if (!trust) {
        pulumi.log.warn("SPIRE is left out: it needs the cluster's SPIRE intermediate from the lab PKI, which is not available yet");
        return undefined;
    }
    const federated = cfg.mesh.trustModel === "federated";
    // Absent until a peer is deployed (readPeers warns): its ClusterFederatedTrustDomain waits for it.
    const federatedPeers = federated ? peers.filter((p) => p.available.has("federation")) : [];
    for (const peer of federatedPeers) used.mark(peer, "federation");
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
                  peers: federatedPeers.map((p) => ({ name: p.clusterName, federation: p.output<SpireFederation>("federation") })),
              }
            : undefined,
    });
    const ids = new ClusterSPIFFEIDs(`${cfg.stack}-spiffeids`, { provider: access.provider, server });
    return { ready: [...server.ready, ...ids.ids], federation: server.federation };
}

/**
 * The private registry on comp1, declared by the root stack (it holds the
 * lab-services CA key that signs the registry's certificate) and only when it
 * builds hosts: a bring-your-own stack has no SSH key.
 */
function privateRegistry(cfg: LabConfig, secrets: StackSecrets, servicesCa: LabServicesCa): Registry | undefined {
    if (!cfg.host || !secrets.sshPrivateKey) return undefined;
    return new Registry(`${cfg.stack}-registry`, {
        address: cfg.registry.host,
        port: cfg.registry.port,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        servicesCaCert: servicesCa.certPem,
        servicesCaKey: servicesCa.keyPem,
        allowRemove: cfg.registry.allowRemove,
    });
}

/**
 * The lab's OIDC issuer (Keycloak) on comp1, declared like the registry by the
 * root stack (its lab-services CA signs the issuer's certificate) when it builds
 * hosts and `jwt.issuer` is the lab's own. Exports what `verify` needs to get a
 * token by itself: `issuer` (URL, token endpoint, client ids), and the client
 * secrets as secrets.
 */
function labIssuer(cfg: LabConfig, secrets: StackSecrets, servicesCa: LabServicesCa): LabIssuer | undefined {
    if (!cfg.jwt.labIssuer || !cfg.host || !secrets.sshPrivateKey) return undefined;
    const issuer = new LabIssuer(`${cfg.stack}-issuer`, {
        address: cfg.registry.host,
        port: cfg.issuer.port,
        realm: cfg.issuer.realm,
        clientId: cfg.issuer.clientId,
        image: cfg.issuer.image,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        servicesCaCert: servicesCa.certPem,
        servicesCaKey: servicesCa.keyPem,
    });
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
                `${cfg.stack}: the lab-services CA is not known yet, so ${host.address} is prepared without trusting it for the registry ` +
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
            registryCaCert: registryCa,
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

/** What the Istio layer declared: the mesh the layers above need, and its outputs for the peers. */
export interface IstioMesh {
    /** Absent while this cluster's intermediates are not signed (istiod left out). */
    readonly serviceMesh?: ServiceMesh;
    /** The `remoteSecret` output: this cluster's reader kubeconfig, for every peer. */
    readonly remoteSecret: pulumi.Output<RemoteSecretValue>;
    /** The `eastWestAddress` output, once the east-west gateway is declared. */
    readonly eastWestAddress?: string;
}

/**
 * Istio multi-primary on different networks (docs/istio.md: IstioPrimary,
 * EastWestGateway, RemoteSecret). Returns the `remoteSecret` and
 * `eastWestAddress` outputs for the peers and installs each peer's
 * `remoteSecret` once that peer exports it.
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
    peers: readonly PeerView[],
    used: PeerUse = new PeerUse(peers),
    jwks: JwksTrust = {},
): IstioMesh {
    if (!trust) {
        pulumi.log.warn("istiod and the gateways are left out: they need this cluster's intermediate CA, which is not signed yet (the remote secrets are exchanged already)");
    } else if (!identity) {
        pulumi.log.warn("no SPIRE layer in this stack: the gateways mount the SPIFFE CSI socket and wait for it, so they will not become ready until SPIRE runs");
    }
    const provider = access.provider;
    // Federated model: every peer's trust domain with its root, once the peer exported both (docs/pki.md, "What the federated model isolates").
    const federation: IstioFederation | undefined =
        cfg.mesh.trustModel === "federated"
            ? {
                  peers: peers.flatMap((p) => {
                      if (!p.identity || !p.available.has("rootCaCert")) return [];
                      used.mark(p, "rootCaCert");
                      return [{ trustDomain: p.identity.trustDomain, rootCaCert: p.output<string>("rootCaCert") }];
                  }),
              }
            : undefined;
    const primary = new IstioPrimary(`${cfg.stack}-istio`, {
        provider,
        version: cfg.versions.istio,
        clusterName: cfg.cluster.name,
        network: cfg.cluster.network,
        meshId: cfg.mesh.id,
        trustDomain: cfg.mesh.trustDomain,
        federation,
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
            hub: primary.hub,
            namespace: primary.namespace,
            network: cfg.cluster.network,
            address: cfg.metallb.eastWestAddress,
            istiod: primary.istiod,
            clusterNetwork: network,
            identity,
        });
    }

    const source = new RemoteSecretSource(`${cfg.stack}-istio-reader`, {
        provider,
        namespace: primary.namespace,
        clusterName: cfg.cluster.name,
        apiServer: access.apiServer,
    });

    // One remote secret per peer, each named after its cluster (istiod discovers every one).
    // Before a peer exports its own, readPeers has warned; nothing is installed for it.
    for (const peer of peers.filter((p) => p.available.has("remoteSecret"))) {
        used.mark(peer, "remoteSecret");
        new RemoteSecret(`${cfg.stack}-remote-${peer.clusterName}`, {
            provider,
            namespace: primary.namespace,
            peerClusterName: peer.clusterName,
            remoteSecret: peer.output<RemoteSecretValue>("remoteSecret"),
        });
    }
    const serviceMesh: ServiceMesh | undefined =
        primary.istiod && primary.ingressCredential
            ? {
                  control: [primary.base, primary.istiod],
                  ingressSelector: primary.ingressSelector,
                  ingressTls: { credentialName: INGRESS_CREDENTIAL, credential: primary.ingressCredential, plainHttp: cfg.ingress.plainHttp },
              }
            : undefined;
    return { serviceMesh, remoteSecret: source.remoteSecret, eastWestAddress: primary.istiod ? cfg.metallb.eastWestAddress : undefined };
}
