// Two-NIC hosts (the lab guide: management eno3, service eno4): MetalLB answers
// ARP on the management NIC only, Cilium's datapath runs on both, the kubelet
// registers the management address; a one-NIC host names no interface at all.
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { hostScript } from "../components/scripts";
import { labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";

const L2 = "kubernetes:metallb.io/v1beta1:L2Advertisement";
const RELEASE = "kubernetes:helm.sh/v3:Release";

const l2Spec = (plan: StackPlan) => resourcesOfType(plan, L2)[0].inputs.spec as Record<string, unknown>;
const ciliumValues = (plan: StackPlan) =>
    resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "cilium")?.inputs.values as Record<string, unknown>;

let lab: LabPlan;
let oneNic: LabPlan;
beforeAll(async () => {
    lab = await planOf();
    oneNic = await planOf(labDirWith((_s, raw) => delete raw.host.serviceAddress));
});

describe.each(["comp2", "comp3"])("%s", (stack) => {
    test("two NICs (a service address): MetalLB's L2Advertisement answers on eno3 only; Cilium's devices are eno3 and eno4", () => {
        expect(l2Spec(stackOf(lab, stack))).toEqual({ ipAddressPools: ["lab-pool"], interfaces: ["eno3"] });
        expect(ciliumValues(stackOf(lab, stack)).devices).toEqual(["eno3", "eno4"]);
    });

    test("one NIC (no service address): no interface named, MetalLB answers on it and Cilium detects it", () => {
        expect(l2Spec(stackOf(oneNic, stack))).toEqual({ ipAddressPools: ["lab-pool"] });
        expect(ciliumValues(stackOf(oneNic, stack))).not.toHaveProperty("devices");
    });
});

test("other NIC names come from config", async () => {
    const named = await planOf(
        labDirWith((_s, raw) => {
            raw.host.managementInterface = "enp1s0";
            raw.host.serviceInterface = "enp2s0";
        }),
    );
    expect(l2Spec(stackOf(named, "comp2")).interfaces).toEqual(["enp1s0"]);
    expect(ciliumValues(stackOf(named, "comp2")).devices).toEqual(["enp1s0", "enp2s0"]);
    const explicit = parseLabConfig(
        "comp2",
        {
            ...rawConfig("comp2"),
            metallb: { ...(rawConfig("comp2").metallb as object), interfaces: ["bond0"] },
            cilium: { devices: ["bond0"] },
        },
        new Set(["sshPrivateKey"]),
    );
    expect([explicit.metallb.interfaces, explicit.cilium.devices]).toEqual([["bond0"], ["bond0"]]);
});

test("the kubelet registers the management address: kubeadm's config sets node-ip to the address it is given, and a re-run checks it", () => {
    const text = hostScript("host/kubeadm-init.sh").text;
    expect(text).toContain('advertiseAddress: "${address}"');
    expect(text).toMatch(/- name: node-ip\\n {6}value: "'"\$\{address\}"'"/);
    expect(text).toMatch(/node-ip: \\"\$\{address\}\\"/);
    expect(text).toContain('[[ "$node_address" == "$address" ]] || problems+=(');
});

describe("a name that is not a Linux interface name is refused, naming the key", () => {
    const refuse = (edit: (raw: Record<string, any>) => void) => {
        const raw = JSON.parse(JSON.stringify(rawConfig("comp2"))) as Record<string, any>;
        edit(raw);
        return () => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]));
    };
    test.each([
        [
            "metallb.interfaces",
            (r: any) => (r.metallb.interfaces = ["eno3", "eth0/1"]),
            /zta-testbed:metallb\.interfaces\[1\] = "eth0\/1": expected a Linux interface name/,
        ],
        [
            "host.managementInterface",
            (r: any) => (r.host.managementInterface = "a-name-that-is-too-long"),
            /zta-testbed:host\.managementInterface = "a-name-that-is-too-long": expected a Linux interface name \(1 to 15 characters/,
        ],
        [
            "cilium.devices",
            (r: any) => (r.cilium.devices = ["eno 3"]),
            /zta-testbed:cilium\.devices\[0\] = "eno 3": expected a Linux interface name/,
        ],
        [
            "host.serviceInterface",
            (r: any) => (r.host.serviceInterface = ".."),
            /zta-testbed:host\.serviceInterface = "\.\.": expected a Linux interface name/,
        ],
    ])("%s", (_key, edit, message) => {
        expect(refuse(edit)).toThrow(ConfigError);
        expect(refuse(edit)).toThrow(message);
    });
});
