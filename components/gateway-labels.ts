// The labels the upstream Istio `gateway` chart renders, mirrored from its
// templates so that selectors are computed, not guessed. Pure: the components,
// the tests and the policy pack (which must not load the Kubernetes SDK) share it.

/** Label Istio and the gateway chart use for a pod's or Service's network. */
export const NETWORK_LABEL = "topology.istio.io/network";

/**
 * The gateway chart's selector labels for a release `name`, as
 * `gateway.selectorLabels` in templates/_helpers.tpl (1.30.3) renders them when
 * `labels.app`/`labels.istio` are unset: `app: <name>`, `istio: <name without
 * "istio-">`. They select the Deployment's pods and the Service's endpoints;
 * Gateways and policies select with them too.
 */
export function gatewaySelectorLabels(name: string): Record<string, string> {
    return { app: name, istio: name.replace(/^istio-/, "") };
}

/** The values of the gateway chart that decide the labels it renders. */
export interface GatewayLabelValues {
    readonly name: string;
    readonly labels?: Record<string, string>;
    readonly networkGateway?: string;
}

/**
 * The labels the gateway chart (1.30.3) puts on the pods (templates/deployment.yaml)
 * and on the Service (templates/service.yaml), from its values: the selector
 * labels, every `labels` entry except app/istio (which would only override the
 * selector labels), and with `networkGateway` the network label.
 */
export function gatewayRenderedLabels(values: GatewayLabelValues): {
    pod: Record<string, string>;
    service: Record<string, string>;
} {
    const selector = { ...gatewaySelectorLabels(values.name) };
    if (values.labels?.app) selector.app = values.labels.app;
    if (values.labels?.istio) selector.istio = values.labels.istio;
    const extra = Object.fromEntries(
        Object.entries({ "istio.io/dataplane-mode": "none", ...values.labels }).filter(
            ([k]) => k !== "app" && k !== "istio",
        ),
    );
    const network: Record<string, string> = values.networkGateway ? { [NETWORK_LABEL]: values.networkGateway } : {};
    return {
        pod: {
            "sidecar.istio.io/inject": "true",
            ...selector,
            "app.kubernetes.io/name": values.name,
            ...extra,
            ...network,
        },
        service: { "app.kubernetes.io/name": values.name, ...selector, ...extra, ...network },
    };
}
