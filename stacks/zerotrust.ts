// The layers above the mesh (docs/design.md, "Layers"): MeshPolicies, the optional
// observability add-ons and the sample workloads.
import { Addons } from "../components/addons";
import { MeshPolicies } from "../components/meshpolicies";
import { Samples, sampleImages } from "../components/samples";
import { ClusterAccess, ClusterNetwork, INGRESS_GATEWAY, ISTIO_NAMESPACE, MeshIdentity, SAMPLE_NAMESPACE, ServiceMesh, SPIRE_MANAGED_LABEL } from "../model/lab";
import { LabConfig } from "./config/lab-config";

/** What declareZeroTrust declared, for stacks/main.ts and the tests. */
export interface ZeroTrust {
    readonly policies: MeshPolicies;
    readonly addons?: Addons;
    readonly samples?: Samples;
}

/**
 * Declares the zero-trust policies, the add-ons and the samples of one cluster
 * on top of its mesh; `peerTrustDomains` are the peers' own (federated model), else empty (Grafana's generated admin password, the
 * `grafanaAdminPassword` output, is the add-ons').
 */
export function declareZeroTrust(cfg: LabConfig, access: ClusterAccess, network: ClusterNetwork | undefined, identity: MeshIdentity | undefined, mesh: ServiceMesh, peerTrustDomains: string[]): ZeroTrust {
    const provider = access.provider;

    const samples = cfg.samples.enabled
        ? new Samples(`${cfg.stack}-samples`, {
              provider,
              namespace: SAMPLE_NAMESPACE,
              // Pods need the CNI and istiod's injection webhook with the `spire` template when they
              // are created, and the SPIRE-managed ones the CSI driver and their ClusterSPIFFEID.
              dependsOn: [...mesh.control, ...(network ? [network.cni] : []), ...(identity?.ready ?? [])],
              helloworldVersion: cfg.samples.helloworldVersion,
              images: sampleImages(cfg.samples.imagesFromRegistry ? `${cfg.registry.host}:${cfg.registry.port}` : undefined),
              spireLabel: SPIRE_MANAGED_LABEL,
              ingressSelector: mesh.ingressSelector,
              // The gateway chart names the gateway's service account after the release.
              ingressServiceAccount: { namespace: ISTIO_NAMESPACE, serviceAccount: INGRESS_GATEWAY },
              ingressTls: mesh.ingressTls,
          })
        : undefined;

    const policies = new MeshPolicies(`${cfg.stack}-mesh-policies`, {
        provider,
        control: mesh.control,
        rootNamespace: ISTIO_NAMESPACE,
        ingressNamespace: ISTIO_NAMESPACE,
        ingressSelector: mesh.ingressSelector,
        issuer: cfg.jwt.issuer,
        jwksUri: cfg.jwt.jwksUri,
        audiences: cfg.jwt.audiences,
        trustDomain: cfg.mesh.trustDomain,
        peerTrustDomains,
        defaultDeny: samples ? [samples.traffic] : [],
    });

    const { prometheus, kiali, grafana } = cfg.addons;
    let addons: Addons | undefined;
    if (prometheus || kiali || grafana) {
        addons = new Addons(`${cfg.stack}-addons`, {
            provider,
            namespace: ISTIO_NAMESPACE,
            dependsOn: [...mesh.control, ...(network ? [network.cni] : [])],
            prometheus,
            kiali,
            grafana,
            versions: cfg.versions,
        });
    }

    return { policies, addons, samples };
}
