import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
    asArray,
    asRecord,
    at,
    Finding,
    objectName,
    Props,
    releasesOf,
    rootNamespaceOf,
    selects,
    TYPES,
} from "../resources";

/**
 * The pod labels the Istio `gateway` chart gives a release
 * (manifests/charts/gateway/templates/_helpers.tpl, `gateway.selectorLabels`):
 * `app` is the gateway's name (values.name, else the release name), `istio`
 * the name without its `istio-` prefix, both overridable by values.labels,
 * which also adds the rest.
 */
export function gatewayPodLabels(release: Props): Record<string, string> {
    const values = asRecord(release.values);
    const name = String(values.name ?? release.name ?? "istio-ingressgateway");
    const extra = Object.fromEntries(
        Object.entries(asRecord(values.labels)).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    return { ...extra, app: extra.app ?? name, istio: extra.istio ?? name.replace(/^istio-/, "") };
}

/** A gateway release that is not a network (east-west) gateway is an entry point from outside the mesh. */
export function isIngressGateway(release: PolicyResource): boolean {
    return at(release.props, "values.networkGateway") === undefined;
}

/** Whether an AuthorizationPolicy's rules refer to the request principal that a validated JWT sets. */
function requiresRequestPrincipal(spec: Props): boolean {
    return asArray(spec.rules).some((rule) => {
        const fromPrincipal = asArray(asRecord(rule).from).some((f) => {
            const source = asRecord(asRecord(f).source);
            return asArray(source.requestPrincipals).length > 0 || asArray(source.notRequestPrincipals).length > 0;
        });
        const whenClaim = asArray(asRecord(rule).when).some((w) =>
            String(asRecord(w).key ?? "").startsWith("request.auth."),
        );
        return fromPrincipal || whenClaim;
    });
}

/**
 * Problems of the stack's ingress gateways: each needs a RequestAuthentication
 * with JWT rules and an AuthorizationPolicy that requires a request principal,
 * both selecting the gateway's pods from its namespace or the root namespace.
 * A RequestAuthentication alone only rejects invalid tokens; a request with
 * no token passes unless an AuthorizationPolicy requires one
 * (istio.io/latest/docs/tasks/security/authorization/authz-jwt/).
 */
export function ingressGatewayJwtProblems(resources: PolicyResource[]): Finding[] {
    const root = releasesOf(resources, "istiod").map(rootNamespaceOf)[0] ?? "istio-system";
    const problems: Finding[] = [];
    for (const gateway of releasesOf(resources, "gateway").filter(isIngressGateway)) {
        const labels = gatewayPodLabels(gateway.props);
        const namespace = gateway.props.namespace;
        const applying = (type: string) =>
            resources.filter((r) => {
                const ns = at(r.props, "metadata.namespace");
                return (
                    r.type === type &&
                    (ns === namespace || ns === root) &&
                    selects(at(r.props, "spec.selector.matchLabels"), labels)
                );
            });
        const who = `ingress gateway ${gateway.name} (pods ${Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(",")} in ${String(namespace)})`;
        const requestAuthn = applying(TYPES.requestAuthentication);
        if (!requestAuthn.some((r) => asArray(at(r.props, "spec.jwtRules")).length > 0)) {
            problems.push({
                urn: gateway.urn,
                message: `${who} has no RequestAuthentication with jwtRules selecting it: tokens would not be validated`,
            });
        }
        const authz = applying(TYPES.authorizationPolicy);
        if (authz.length === 0) {
            problems.push({
                urn: gateway.urn,
                message: `${who} has no AuthorizationPolicy selecting it: requests without a token would pass`,
            });
        } else if (!authz.some((a) => requiresRequestPrincipal(asRecord(a.props.spec)))) {
            const names = authz.map((a) => objectName(a.props, a.name)).join(", ");
            problems.push({
                urn: gateway.urn,
                message: `${who}: AuthorizationPolicy ${names} never requires a request principal (requestPrincipals/notRequestPrincipals or a request.auth condition): requests without a token would pass`,
            });
        }
    }
    return problems;
}

export const ingressGatewayJwt: StackValidationPolicy = {
    name: "ingress-gateway-jwt",
    description:
        "Every ingress gateway has a JWT RequestAuthentication and an AuthorizationPolicy that requires a request principal.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, reportViolation) => {
        if (!releasesOf(args.resources, "gateway").some(isIngressGateway))
            args.notApplicable("the stack installs no ingress gateway");
        for (const f of ingressGatewayJwtProblems(args.resources)) reportViolation(f.message, f.urn);
    },
};
