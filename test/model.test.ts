// The formats the bottom module writes once for every layer, against the
// upstream forms stated here as literals.
import { remoteSecretName, spiffeId, workloadPrincipal, workloadSpiffeId } from "../model/lab";

describe("identities and names every layer shares", () => {
    test("a workload's SPIFFE ID has Istio's form spiffe://<trust domain>/ns/<namespace>/sa/<service account>", () => {
        expect(workloadSpiffeId("zta.lab", "sample", "curl")).toBe("spiffe://zta.lab/ns/sample/sa/curl");
        expect(workloadSpiffeId("cluster2.zta.lab", "istio-system", "istio-eastwestgateway")).toBe(
            "spiffe://cluster2.zta.lab/ns/istio-system/sa/istio-eastwestgateway",
        );
    });

    test("an AuthorizationPolicy principal is the SPIFFE ID without its scheme", () => {
        expect(workloadPrincipal("zta.lab", "istio-system", "istio-ingressgateway")).toBe(
            "zta.lab/ns/istio-system/sa/istio-ingressgateway",
        );
    });

    test("the SPIRE server's ID and a trust domain prefix are SPIFFE IDs too", () => {
        expect(spiffeId("zta.lab", "/spire/server")).toBe("spiffe://zta.lab/spire/server");
        expect(spiffeId("cluster2.zta.lab", "/")).toBe("spiffe://cluster2.zta.lab/");
    });

    test("a peer's remote secret is named as istioctl create-remote-secret names it", () => {
        expect(remoteSecretName("cluster2")).toBe("istio-remote-secret-cluster2");
    });
});
