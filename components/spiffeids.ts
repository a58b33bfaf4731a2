// Which pods SPIRE gives an identity: the Istio gateways and every pod that
// Istio's `spire` injection template labelled, each with Istio's ID pattern.
import * as pulumi from "@pulumi/pulumi";
import { TypedCustomResource } from "./crd";
import { gatewaySelectorLabels } from "./gateway-labels";
import { ISTIO_SPIFFE_ID_TEMPLATE, validateSpiffeIdTemplate } from "./spiffe-id";
import { SpireServer } from "./spire";
import { EAST_WEST_GATEWAY, INGRESS_GATEWAY, ISTIO_NAMESPACE, SPIRE_MANAGED_LABEL } from "../model/lab";

/** A Kubernetes label selector as the CRD embeds it (atomic map). */
export interface LabelSelector {
    readonly matchLabels?: Record<string, string>;
    readonly matchExpressions?: { readonly key: string; readonly operator: string; readonly values?: string[] }[];
}

/** ClusterSPIFFEID spec, by hand from spire-controller-manager v0.6.2 `spire.spiffe.io_clusterspiffeids.yaml`. */
export interface ClusterSPIFFEIDSpec {
    /** Go template of the SPIFFE ID (required). */
    readonly spiffeIDTemplate: string;
    readonly podSelector?: LabelSelector;
    readonly namespaceSelector?: LabelSelector;
    /** Extra selectors "type:value" (templated) on every entry, beside the controller's own k8s:pod-uid. */
    readonly workloadSelectorTemplates?: string[];
    readonly dnsNameTemplates?: string[];
    readonly autoPopulateDNSNames?: boolean;
    readonly ttl?: string;
    readonly jwtTtl?: string;
    /** Trust domains whose bundles the workloads receive (federation). */
    readonly federatesWith?: string[];
    readonly admin?: boolean;
    readonly downstream?: boolean;
    /** The controller manager class that acts on this object. */
    readonly className?: string;
    /** Applies only when no other non-fallback ClusterSPIFFEID matches. */
    readonly fallback?: boolean;
    readonly hint?: string;
}

/** One registration: its object name and what it selects. */
interface Registration {
    readonly key: string;
    readonly spec: Omit<ClusterSPIFFEIDSpec, "spiffeIDTemplate" | "className" | "federatesWith">;
}

/** The registrations the mesh needs; each ID is Istio's ns/sa pattern. */
export function meshRegistrations(): Registration[] {
    const gateway = (release: string): Registration => ({
        key: release,
        spec: {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ISTIO_NAMESPACE } },
            podSelector: { matchLabels: { istio: gatewaySelectorLabels(release).istio } },
            // The chart names the gateway's service account after the release.
            workloadSelectorTemplates: [`k8s:ns:${ISTIO_NAMESPACE}`, `k8s:sa:${release}`],
        },
    });
    return [
        gateway(INGRESS_GATEWAY),
        gateway(EAST_WEST_GATEWAY),
        {
            // Any namespace (except the controller manager's ignoreNamespaces): the label is the opt-in.
            key: "spire-managed-identity",
            spec: {
                podSelector: { matchLabels: { [SPIRE_MANAGED_LABEL]: "true" } },
                workloadSelectorTemplates: [
                    "k8s:ns:{{ .PodMeta.Namespace }}",
                    "k8s:sa:{{ .PodSpec.ServiceAccountName }}",
                ],
            },
        },
    ];
}

export interface ClusterSPIFFEIDsArgs {
    /** The SPIRE server whose controller manager reconciles these (its class, CRDs and federation). */
    readonly server: SpireServer;
}

/**
 * ClusterSPIFFEIDs for (a) the ingress and east-west gateways in istio-system and
 * (b) any pod labelled `spiffe.io/spire-managed-identity: "true"`. A gateway pod
 * matches both (Istio's `spire` template labels it too); the controller manager
 * renders identical entries and masks the duplicate.
 */
export class ClusterSPIFFEIDs extends pulumi.ComponentResource {
    /** The ClusterSPIFFEID objects. */
    public readonly ids: TypedCustomResource<ClusterSPIFFEIDSpec>[];

    constructor(name: string, args: ClusterSPIFFEIDsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:identity:ClusterSPIFFEIDs", name, {}, opts);
        validateSpiffeIdTemplate(ISTIO_SPIFFE_ID_TEMPLATE);
        const server = args.server;

        this.ids = meshRegistrations().map(
            (reg) =>
                new TypedCustomResource<ClusterSPIFFEIDSpec>(
                    `${name}-${reg.key}`,
                    {
                        apiVersion: "spire.spiffe.io/v1alpha1",
                        kind: "ClusterSPIFFEID",
                        metadata: { name: reg.key },
                        spec: server.federatesWith.apply((federatesWith): ClusterSPIFFEIDSpec => ({
                            ...reg.spec,
                            spiffeIDTemplate: ISTIO_SPIFFE_ID_TEMPLATE,
                            className: server.className,
                            ...(federatesWith.length > 0 ? { federatesWith } : {}),
                        })),
                    },
                    // The CRD (spire-crds), the controller manager and its webhook (spire) and the
                    // peer's federated bundle (federatesWith fails without it) must exist first.
                    { parent: this, dependsOn: server.ready },
                ),
        );

        this.registerOutputs({ ids: this.ids });
    }
}
