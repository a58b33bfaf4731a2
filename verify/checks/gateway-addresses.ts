import { EAST_WEST_GATEWAY, INGRESS_GATEWAY, ISTIO_NAMESPACE } from "../../model/lab";
import { Check, failIf } from "../check";
import { ServiceInfo } from "../cluster";

export function gatewayProblems(name: string, service: ServiceInfo | undefined, expectedIp: string): string[] {
    if (service === undefined) return [`Service ${ISTIO_NAMESPACE}/${name} not found`];
    if (service.type !== "LoadBalancer") return [`${name} is a ${service.type} Service, expected LoadBalancer`];
    if (!service.loadBalancerIps.includes(expectedIp)) {
        return [
            `${name} has address [${service.loadBalancerIps.join(", ") || "none, still pending"}], expected ${expectedIp} from MetalLB`,
        ];
    }
    return [];
}

export const gatewayAddresses: Check = {
    id: "gateway-addresses",
    title: "gateways have their MetalLB addresses",
    proves: `the ${INGRESS_GATEWAY} and ${EAST_WEST_GATEWAY} Services got the fixed addresses metallb.ingressAddress and metallb.eastWestAddress`,
    async run({ cluster, target }) {
        const want: [string, string][] = [
            [INGRESS_GATEWAY, target.ingressAddress],
            [EAST_WEST_GATEWAY, target.eastWestAddress],
        ];
        const problems: string[] = [];
        for (const [name, ip] of want)
            problems.push(...gatewayProblems(name, await cluster.getService(ISTIO_NAMESPACE, name), ip));
        failIf(problems);
        return want.map(([name, ip]) => `${name} ${ip}`).join(", ");
    },
};
