// Kubernetes RBAC's decision for one request, for tests that ask the planned (or a
// sample) role what verify's remote-secret-scope check asks a real API server:
// a rule matches when its verbs, API groups, resources (with subresource) and
// resourceNames all do (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go,
// RuleAllows). A Role's rules apply in its binding's namespace only.
import { AccessProbe } from "../verify/reader-scope";

export interface RbacRule {
    readonly apiGroups: string[];
    readonly resources: string[];
    readonly resourceNames?: string[];
    readonly verbs: string[];
}

/** Rules granted through one binding: `namespace` set for a RoleBinding. */
export interface RbacGrant {
    readonly rules: readonly RbacRule[];
    readonly namespace?: string;
}

function ruleAllows(rule: RbacRule, p: AccessProbe): boolean {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const names = rule.resourceNames ?? [];
    return (
        (rule.verbs.includes("*") || rule.verbs.includes(p.verb)) &&
        (rule.apiGroups.includes("*") || rule.apiGroups.includes(p.group)) &&
        (rule.resources.includes("*") ||
            rule.resources.includes(resource) ||
            (p.subresource !== undefined && rule.resources.includes(`*/${p.subresource}`))) &&
        (names.length === 0 || (p.name !== undefined && names.includes(p.name)))
    );
}

export function rbacAllows(grants: readonly RbacGrant[], p: AccessProbe): boolean {
    return grants.some(
        (g) => (g.namespace === undefined || g.namespace === p.namespace) && g.rules.some((r) => ruleAllows(r, p)),
    );
}

/**
 * What istiod 1.30.3's informers on a peer cluster list and watch, stated here as literals
 * (pilot/pkg/serviceregistry/kube/controller, pkg/kube/multicluster/cluster.go,
 * pkg/kube/kclient/crdwatcher.go, security/pkg/server/ca/node_auth.go), and the mesh
 * ConfigMap by name (kubemesh.NewConfigMapSource watches istio-system with metadata.name=istio).
 */
export const ISTIOD_REMOTE_READS: RbacRule[] = [
    { apiGroups: [""], resources: ["namespaces", "services", "pods", "nodes"], verbs: ["list", "watch"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    { apiGroups: ["networking.istio.io"], resources: ["workloadentries"], verbs: ["list", "watch"] },
    { apiGroups: ["gateway.networking.k8s.io"], resources: ["gateways"], verbs: ["list", "watch"] },
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
];
export const MESH_CONFIG_READ: RbacRule[] = [
    { apiGroups: [""], resources: ["configmaps"], resourceNames: ["istio"], verbs: ["list", "watch"] },
];
