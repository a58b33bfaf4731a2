// The table of bad inputs: every wrong value, stack file and flag a user can
// give, with the exit code and a fragment of the one message that must answer
// it. Config cases are pure (parseLabConfig and the plan's up-front lab check);
// test/bad-input.test.ts runs the whole table, a subset through the real CLIs.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { PLAN_MARKER, writeOutDir } from "../offline/planner/outdir";
import { LAB_WIDE_KEYS } from "../stacks/config/schema";
import { labDirWith } from "./helpers";

export type Edit = (r: any) => void;

/** A certificate of test/fixtures/brought-root (made by its make-roots.ts). */
export function broughtRoot(file: string): string {
    return fs.readFileSync(path.join(__dirname, "fixtures", "brought-root", file), "utf8");
}

/**
 * One stack file's mistakes, applied to comp2: [label, edit of its raw config,
 * the problem parseLabConfig reports]. Every message is prefixed with the stack
 * file, "Pulumi.comp2.yaml: " (asserted by the table test).
 */
export const CONFIG_CASES: [string, Edit, RegExp][] = [
    ["cluster id 0", (r: any) => (r.cluster.id = 0), /zta-testbed:cluster\.id = 0: expected an integer from 1 to 255/],
    [
        "cluster id 256",
        (r: any) => (r.cluster.id = 256),
        /zta-testbed:cluster\.id = 256: expected an integer from 1 to 255/,
    ],
    [
        "a pool that is not a range",
        (r: any) => (r.metallb.addresses = ["10.5.0.100..10.5.0.120"]),
        /zta-testbed:metallb\.addresses\[0\] = "10\.5\.0\.100\.\.10\.5\.0\.120": expected an IPv4 range/,
    ],
    [
        "a backwards range",
        (r: any) => (r.metallb.addresses = ["10.5.0.120-10.5.0.100"]),
        /metallb\.addresses\[0\].*first <= last/,
    ],
    [
        "a CIDR with host bits",
        (r: any) => (r.cluster.podCidr = "10.244.1.0/16"),
        /zta-testbed:cluster\.podCidr = "10\.244\.1\.0\/16": expected an IPv4 CIDR/,
    ],
    [
        "a trust domain with a scheme",
        (r: any) => (r.mesh.trustDomain = "spiffe://zta.lab"),
        /zta-testbed:mesh\.trustDomain = "spiffe:\/\/zta\.lab": expected a SPIFFE trust domain/,
    ],
    ["a trust domain with capitals", (r: any) => (r.mesh.trustDomain = "ZTA.lab"), /mesh\.trustDomain = "ZTA\.lab"/],
    [
        "an unknown PKI role",
        (r: any) => (r.pki.role = "primary"),
        /zta-testbed:pki\.role = "primary": expected "root".*or "peer"/,
    ],
    ["an unknown trust model", (r: any) => (r.mesh.trustModel = "mixed"), /mesh\.trustModel = "mixed"/],
    [
        "a chart version range",
        (r: any) => (r.versions.istio = "^1.30"),
        /zta-testbed:versions\.istio = "\^1\.30": expected a pinned chart version/,
    ],
    [
        "an unsupported Kubernetes version",
        (r: any) => (r.versions.kubernetes = "1.19"),
        /zta-testbed:versions\.kubernetes = "1\.19" is outside the supported/,
    ],
    [
        "a Kubernetes version that is no version",
        (r: any) => (r.versions.kubernetes = "v1.36"),
        /zta-testbed:versions\.kubernetes = "v1\.36": expected a Kubernetes minor or patch version/,
    ],
    [
        "a cluster name Cilium refuses",
        (r: any) => (r.cluster.name = "default"),
        /cluster\.name = "default": may not be "default"/,
    ],
    ["a cluster name over 32 characters", (r: any) => (r.cluster.name = "c".repeat(33)), /at most 32 characters/],
    ["a missing section", (r: any) => delete r.mesh, /zta-testbed:mesh is not set/],
    [
        "a gateway address outside the pool",
        (r: any) => (r.metallb.eastWestAddress = "10.5.0.130"),
        /zta-testbed:metallb\.eastWestAddress = "10\.5\.0\.130" is outside zta-testbed:metallb\.addresses/,
    ],
    [
        "two gateways on one address",
        (r: any) => (r.metallb.eastWestAddress = r.metallb.ingressAddress),
        /eastWestAddress = "10\.5\.0\.100" is already used by zta-testbed:metallb\.ingressAddress/,
    ],
    [
        "overlapping pools",
        (r: any) => (r.metallb.addresses = ["10.5.0.100-10.5.0.120", "10.5.0.110/31"]),
        /"10\.5\.0\.100-10\.5\.0\.120" overlaps "10\.5\.0\.110\/31"/,
    ],
    [
        "a pool outside the host's networks",
        (r: any) => (r.metallb.addresses = ["10.5.0.100-10.5.0.120", "10.6.0.1-10.6.0.9"]),
        /"10\.6\.0\.1-10\.6\.0\.9" is not inside any of zta-testbed:host\.networks/,
    ],
    [
        "pod and service CIDRs overlapping",
        (r: any) => (r.cluster.serviceCidr = "10.244.128.0/17"),
        /cluster\.podCidr = "10\.244\.0\.0\/16" overlaps zta-testbed:cluster\.serviceCidr/,
    ],
    [
        "a pod CIDR too small for a node's /24 (Cilium's kubernetes IPAM)",
        (r: any) => (r.cluster.podCidr = "10.244.0.0/25"),
        /zta-testbed:cluster\.podCidr = "10\.244\.0\.0\/25": expected a prefix of \/24 or shorter/,
    ],
    [
        "kube-proxy replacement as a string",
        (r: any) => (r.cilium.kubeProxyReplacement = "strict"),
        /zta-testbed:cilium\.kubeProxyReplacement = "strict": expected true or false/,
    ],
    [
        "a pod CIDR over the hosts' network",
        (r: any) => (r.cluster.podCidr = "10.5.0.0/16"),
        /cluster\.podCidr = "10\.5\.0\.0\/16" overlaps zta-testbed:host\.networks entry "10\.5\.0\.0\/24"/,
    ],
    [
        "a service CIDR over the registry host",
        (r: any) => ((r.host.networks = []), (r.cluster.serviceCidr = "10.5.0.0/24")),
        /cluster\.serviceCidr = "10\.5\.0\.0\/24" contains zta-testbed:registry\.host = "10\.5\.0\.2"/,
    ],
    [
        "JWT audiences that are not a list",
        (r: any) => (r.jwt.audiences = "zta-ingress"),
        /zta-testbed:jwt\.audiences = "zta-ingress": expected a non-empty list of strings/,
    ],
    [
        "a SPIRE switch that is not a boolean",
        (r: any) => (r.spire = { oidcDiscovery: "yes" }),
        /zta-testbed:spire\.oidcDiscovery = "yes": expected true or false/,
    ],
    [
        "a roster entry with another stack's cluster name",
        (r: any) => (r.roster[1].clusterName = "cluster1"),
        /Pulumi\.yaml: zta-testbed:roster\[1\]\.clusterName = "cluster1" is already zta-testbed:roster\[0\]\.clusterName: every cluster of the lab needs its own name/,
    ],
    [
        "a helloworld version that does not exist",
        (r: any) => (r.samples.helloworldVersion = "v3"),
        /zta-testbed:samples\.helloworldVersion = "v3": expected "v1" or "v2"/,
    ],
    [
        "samples on without a helloworld version",
        (r: any) => delete r.samples.helloworldVersion,
        /zta-testbed:samples\.helloworldVersion = undefined: expected a non-empty string/,
    ],
    [
        "a misspelt version while samples are off",
        (r: any) => (r.samples = { enabled: false, helloworldVersion: "1" }),
        /samples\.helloworldVersion = "1": expected "v1" or "v2"/,
    ],
    [
        "a registry switch that is not a boolean",
        (r: any) => (r.samples.imagesFromRegistry = "yes"),
        /zta-testbed:samples\.imagesFromRegistry = "yes": expected true or false/,
    ],
    // Issue 17: values that would break the real lab.
    [
        "a gateway address that is the host's own address",
        (r: any) => (
            (r.metallb.addresses = ["10.5.0.3-10.5.0.3", "10.5.0.100-10.5.0.120"]),
            (r.metallb.federationAddress = "10.5.0.3")
        ),
        /zta-testbed:metallb\.federationAddress = "10\.5\.0\.3" is zta-testbed:host\.address: MetalLB would answer ARP for that machine's own address/,
    ],
    [
        "an ingress address that is the registry's",
        (r: any) => (
            (r.metallb.addresses = ["10.5.0.2/32", "10.5.0.100-10.5.0.120"]),
            (r.metallb.ingressAddress = "10.5.0.2")
        ),
        /zta-testbed:metallb\.ingressAddress = "10\.5\.0\.2" is zta-testbed:registry\.host/,
    ],
    [
        "host.serviceAddress equal to the ingress address",
        (r: any) => (r.host.serviceAddress = "10.5.0.100"),
        /zta-testbed:metallb\.ingressAddress = "10\.5\.0\.100" is zta-testbed:host\.serviceAddress: .*pick a free address/,
    ],
    [
        "a pool that contains the host's address",
        (r: any) => (r.metallb.addresses = ["10.5.0.3-10.5.0.120"]),
        /zta-testbed:metallb\.addresses: "10\.5\.0\.3-10\.5\.0\.120" contains zta-testbed:host\.address = "10\.5\.0\.3": .*leave the hosts' and the registry's addresses out of the pool/,
    ],
    [
        "a pool that contains the registry's address",
        (r: any) => (r.metallb.addresses = ["10.5.0.100-10.5.0.120", "10.5.0.2/32"]),
        /"10\.5\.0\.2\/32" contains zta-testbed:registry\.host = "10\.5\.0\.2"/,
    ],
    [
        "the stack's roster entry naming another cluster",
        (r: any) => (r.roster[0].clusterName = "cluster9"),
        /Pulumi\.yaml: zta-testbed:roster\[0\]\.clusterName = "cluster9" but stack "comp2" builds zta-testbed:cluster\.name = "cluster1" \(Pulumi\.comp2\.yaml\): make them equal/,
    ],
    [
        "a stack on the roster twice, once with its organization",
        (r: any) => r.roster.push({ stack: "acme/zta-testbed/comp2", clusterName: "cluster4" }),
        /Pulumi\.yaml: zta-testbed:roster\[2\]\.stack = "acme\/zta-testbed\/comp2" is already zta-testbed:roster\[0\]: name each stack once/,
    ],
    [
        "a stack that is not on the roster",
        (r: any) => (r.roster = r.roster.filter((e: { stack: string }) => e.stack !== "comp2")),
        // The program's message, and the plan's (which has read every stack file of the dir).
        /Pulumi\.yaml: zta-testbed:roster has no entry for (this stack, "comp2"|stack "comp2", whose Pulumi\.comp2\.yaml is in \S+): add `- \{stack: comp2, clusterName: cluster1\}` to it; a stack that has left the lab is (destroyed, not run|not planned)/,
    ],
    [
        "the retired per-stack peers",
        (r: any) => ((r.peers = [{ stack: "comp3", clusterName: "cluster2" }]), delete r.roster),
        /Pulumi\.comp2\.yaml: zta-testbed:peers is retired: the lab's stacks are listed once, in Pulumi\.yaml's zta-testbed:roster/,
    ],
    [
        "an SSH user with a space and capitals",
        (r: any) => (r.host.sshUser = "Lab Admin"),
        /zta-testbed:host\.sshUser = "Lab Admin": expected a Linux user name/,
    ],
    [
        "an SSH user with shell syntax",
        (r: any) => (r.host.sshUser = "ubuntu;reboot"),
        /zta-testbed:host\.sshUser = "ubuntu;reboot": expected a Linux user name/,
    ],
    [
        "a registry SSH user that is an ssh option",
        (r: any) => (r.registry.sshUser = "-oProxyCommand=x"),
        /zta-testbed:registry\.sshUser = "-oProxyCommand=x": expected a Linux user name/,
    ],
    [
        "an SSH user over 32 characters",
        (r: any) => (r.host.sshUser = "u".repeat(33)),
        /host\.sshUser = "u{33}": expected a Linux user name.*at most 32 characters/,
    ],
    // Issue 16: a typo is refused with the nearest valid key, in a stack file's section and in Pulumi.yaml's.
    [
        "a misspelt key inside a section (host.allowRest)",
        (r: any) => (r.host.allowRest = true),
        /Pulumi\.comp2\.yaml: zta-testbed:host\.allowRest is not a known setting: did you mean zta-testbed:host\.allowReset\?/,
    ],
    [
        "a misspelt lab-wide key (jwt.audiance)",
        (r: any) => (r.jwt.audiance = ["zta-ingress"]),
        /(^|\s)Pulumi\.yaml: zta-testbed:jwt\.audiance is not a known setting: did you mean zta-testbed:jwt\.audiences\?/,
    ],
    [
        "registry.allowRemove that is not a boolean",
        (r: any) => (r.registry.allowRemove = "yes"),
        /zta-testbed:registry\.allowRemove = "yes": expected true or false/,
    ],
    // Issues 23 and 27: a brought root (pki.rootCaCert) that cannot carry the lab's chains, refused before anything is touched.
    [
        "a brought root followed by a second, unrelated CA",
        (r: any) => (r.pki.rootCaCert = broughtRoot("good-root.pem") + broughtRoot("unrelated-ca.pem")),
        /zta-testbed:pki\.rootCaCert = "-----BEGIN CERTIFICATE-----.*": expected one certificate, the root CA, but it holds 2 \("O=zta-testbed fixtures, CN=brought root constrained to zta\.lab", "O=zta-testbed fixtures, CN=an unrelated CA"\).*keep only the root/,
    ],
    [
        "a brought root without keyCertSign",
        (r: any) => (r.pki.rootCaCert = broughtRoot("no-keycertsign.pem")),
        /zta-testbed:pki\.rootCaCert = .*"O=zta-testbed fixtures, CN=brought root without keyCertSign" may not sign certificates: its keyUsage is .*without keyCertSign; bring a root whose keyUsage includes keyCertSign/,
    ],
    [
        "a brought root whose path length leaves no room for SPIRE's CA",
        (r: any) => (r.pki.rootCaCert = broughtRoot("pathlen-1.pem")),
        /zta-testbed:pki\.rootCaCert = .*"O=zta-testbed fixtures, CN=brought root with pathLen 1" has pathLenConstraint 1, but the lab puts 2 CAs below its root \(root -> SPIRE upstream intermediate -> SPIRE server CA -> SVID\).*bring a root with pathLenConstraint 2 or more, or none/,
    ],
    [
        "a brought root whose name constraints permit other URIs only",
        (r: any) => (r.pki.rootCaCert = broughtRoot("uri-permitted-elsewhere.pem")),
        /zta-testbed:pki\.rootCaCert "O=zta-testbed fixtures, CN=brought root for example\.com URIs": its name constraints permit URIs only under "\.example\.com", which shuts out spiffe:\/\/zta\.lab\/\.\.\..*bring a root without URI name constraints, or one that permits "zta\.lab"/,
    ],
    [
        "a brought root whose name constraints exclude the trust domain",
        (r: any) => (r.pki.rootCaCert = broughtRoot("uri-excluded-lab.pem")),
        /zta-testbed:pki\.rootCaCert "O=zta-testbed fixtures, CN=brought root excluding zta\.lab": its name constraints exclude URIs under "zta\.lab", which shuts out spiffe:\/\/zta\.lab\/\.\.\./,
    ],
    [
        "a brought root that ends before the intermediates would",
        // Valid until 2034-06-01 (make-roots.ts); with ten-year intermediates it ends first until then, and is expired after.
        (r: any) => ((r.pki.rootCaCert = broughtRoot("ends-2034.pem")), (r.pki.intermediateValidityHours = 87600)),
        /zta-testbed:pki\.rootCaCert "O=zta-testbed fixtures, CN=brought root ending in 2034" ends 2034-06-01T00:00:00\.000Z, before the intermediates it would sign now \(zta-testbed:pki\.intermediateValidityHours = 87600, until .*\).*bring a root that outlives them, or lower zta-testbed:pki\.intermediateValidityHours/,
    ],
    [
        "a brought root that has expired",
        (r: any) => (r.pki.rootCaCert = broughtRoot("expired.pem")),
        /zta-testbed:pki\.rootCaCert = .*expected a certificate valid now; "O=zta-testbed fixtures, CN=brought root that expired" is valid from Jan {2}1 00:00:00 2020 GMT to Jan {2}1 00:00:00 2021 GMT: bring a root that is valid now/,
    ],
];

// Issue 26: the lab's own workloads (lab-wide, so every message names Pulumi.yaml).
/** The blueprint's app and its client in the other cluster, as examples/workloads configures them. */
const FLASK = {
    namespace: "flask",
    name: "flask-hello",
    cluster: "cluster1",
    image: "10.5.0.2:8443/flask-hello:1.0.0",
    port: 5000,
    callers: ["client/curl"],
    ingress: { pathPrefix: "/hello" },
};
const CURL = {
    namespace: "client",
    name: "curl",
    cluster: "cluster2",
    image: "docker.io/curlimages/curl:8.16.0@sha256:463eaf6072688fe96ac64fa623fe73e1dbe25d8ad6c34404a669ad3ce1f104b6",
    command: ["/bin/sleep", "infinity"],
};
/** An edit that configures FLASK and CURL, the first changed by `change`. */
const withWorkloads =
    (change: (flask: any, curl: any) => void): Edit =>
    (r: any) => {
        const flask = JSON.parse(JSON.stringify(FLASK));
        const curl = JSON.parse(JSON.stringify(CURL));
        change(flask, curl);
        r.workloads = [flask, curl];
    };
CONFIG_CASES.push(
    [
        "a workload in a cluster the lab does not have",
        withWorkloads((f) => (f.cluster = "cluster9")),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.cluster = "cluster9" is not a cluster of the lab \(its clusters: "cluster1", "cluster2"\): name one of them, or leave cluster out/,
    ],
    [
        "a caller that is not a configured workload",
        withWorkloads((f) => (f.callers = ["client/wget"])),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.callers\[0\] = "client\/wget" is not a workload of zta-testbed:workloads \(its workloads: "flask\/flask-hello", "client\/curl"\): add the caller there/,
    ],
    [
        "a workload that names itself as its caller",
        withWorkloads((f) => f.callers.push("flask/flask-hello")),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.callers\[1\] = "flask\/flask-hello" is the workload itself: list the other workloads that call it/,
    ],
    [
        "a caller that is not <namespace>/<name>",
        withWorkloads((f) => (f.callers = ["curl"])),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.callers\[0\] = "curl": expected "<namespace>\/<name>" of another workload/,
    ],
    [
        "ingress on a workload without a port",
        withWorkloads((f) => ((f.callers = []), delete f.port)),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.ingress is set but zta-testbed:workloads\[0\]\.port is not: a workload is called on the port it serves; give its port, or remove ingress/,
    ],
    [
        "callers of a workload without a port",
        withWorkloads((f) => (delete f.ingress, delete f.port)),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.callers is set but zta-testbed:workloads\[0\]\.port is not/,
    ],
    [
        "two workloads with the same namespace and name",
        withWorkloads((_f, c) => ((c.namespace = "flask"), (c.name = "flask-hello"))),
        /Pulumi\.yaml: zta-testbed:workloads\[1\] "flask\/flask-hello" is already zta-testbed:workloads\[0\]: name each workload once/,
    ],
    [
        "a workload in a namespace the program owns",
        withWorkloads((_f, c) => (c.namespace = "istio-system")),
        /Pulumi\.yaml: zta-testbed:workloads\[1\]\.namespace = "istio-system" is a namespace the program runs its own pods in .*: give the workload a namespace of its own/,
    ],
    [
        "a workload in kube-system",
        withWorkloads((_f, c) => (c.namespace = "kube-system")),
        /zta-testbed:workloads\[1\]\.namespace = "kube-system" is a namespace the program runs its own pods in/,
    ],
    [
        "a workload serving on a port of the sidecar",
        withWorkloads((f) => (f.port = 15021)),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.port = 15021 is a port the Istio sidecar takes in every meshed pod .*: serve the workload on another port/,
    ],
    [
        "a workload image at :latest",
        withWorkloads((f) => (f.image = "10.5.0.2:8443/flask-hello:latest")),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.image = "10\.5\.0\.2:8443\/flask-hello:latest": expected a pinned image: a sha256 digest or an exact release tag \(not "latest", which moves\)/,
    ],
    [
        "a workload image without a tag",
        withWorkloads((f) => (f.image = "10.5.0.2:8443/flask-hello")),
        /zta-testbed:workloads\[0\]\.image = "10\.5\.0\.2:8443\/flask-hello": expected a pinned image/,
    ],
    [
        "a workload image from a registry neither the lab's nor the samples'",
        withWorkloads((f) => (f.image = "docker.io/library/python:3.13.1")),
        /zta-testbed:workloads\[0\]\.image = "docker\.io\/library\/python:3\.13\.1": expected an image from "10\.5\.0\.2:8443" or .*mirror any other image into the lab registry/,
    ],
    [
        "two ingress routes on one path",
        withWorkloads((_f, c) => ((c.port = 8080), (c.ingress = { pathPrefix: "/hello" }))),
        /Pulumi\.yaml: zta-testbed:workloads\[1\]\.ingress\.pathPrefix = "\/hello" is already zta-testbed:workloads\[0\]\.ingress\.pathPrefix: each route at the ingress needs a path of its own/,
    ],
    [
        "an ingress route on / (every request of the ingress)",
        withWorkloads((f) => (f.ingress = { pathPrefix: "/" })),
        /zta-testbed:workloads\[0\]\.ingress\.pathPrefix = "\/": expected a path below "\/"/,
    ],
    [
        "a misspelt key of a workload's ingress",
        withWorkloads((f) => (f.ingress = { pathprefix: "/hello" })),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.ingress\.pathprefix is not a known setting: did you mean zta-testbed:workloads\[0\]\.ingress\.pathPrefix\?/,
    ],
    [
        "workload egress to every address",
        withWorkloads((f) => (f.egress = ["0.0.0.0/0:443"])),
        /Pulumi\.yaml: zta-testbed:workloads\[0\]\.egress\[0\] = "0\.0\.0\.0\/0:443": a \/0 opens egress to every address; .*or set zta-testbed:networkPolicy\.allowBroadEgress: true in Pulumi\.comp2\.yaml/,
    ],
    [
        "workload egress without a port",
        withWorkloads((f) => (f.egress = ["192.0.2.10"])),
        /zta-testbed:workloads\[0\]\.egress\[0\] = "192\.0\.2\.10": expected "<IPv4 address or CIDR>:<port>"/,
    ],
);

/** Mistakes between the two stack files: [label, edit of each stack's raw config, the problem]. */
export const LAB_CASES: [string, (stack: string, r: any) => void, RegExp][] = [
    [
        "pki.role root in both stacks",
        (_s, r) => (r.pki.role = "root"),
        /Pulumi\.comp2\.yaml: zta-testbed:pki\.role is "root" here and "root" in peer stack "comp3": exactly one stack of the lab owns the root CA; set pki\.role to "peer" in one of them/,
    ],
    [
        "pki.role peer in both stacks",
        (_s, r) => (r.pki.role = "peer"),
        /zta-testbed:pki\.role is "peer" in every stack file \(Pulumi\.comp2\.yaml, Pulumi\.comp3\.yaml\): then no stack issues the lab PKI/,
    ],
    [
        "a pool that contains the peer's host address",
        (s, r) => s === "comp2" && r.metallb.addresses.push("10.5.0.4/32"),
        /Pulumi\.comp2\.yaml: zta-testbed:metallb\.addresses: "10\.5\.0\.4\/32" here contains host\.address = "10\.5\.0\.4" of peer stack "comp3"/,
    ],
    [
        "a pool that contains the peer's service address",
        (s, r) => s === "comp3" && (r.metallb.addresses = ["10.5.0.121-10.5.0.139", "10.5.1.3/32"]),
        /Pulumi\.comp3\.yaml: .*"10\.5\.1\.3\/32" here contains host\.serviceAddress = "10\.5\.1\.3" of peer stack "comp2"/,
    ],
    [
        "a roster clusterName that is not the stack's cluster.name",
        (_s, r) => (r.roster[1].clusterName = "cluster9"),
        /Pulumi\.yaml: zta-testbed:roster\[1\]\.clusterName = "cluster9" but stack "comp3" builds zta-testbed:cluster\.name = "cluster2" \(Pulumi\.comp3\.yaml\)/,
    ],
    [
        "a roster entry naming a stack without a stack file",
        (_s, r) => r.roster.push({ stack: "comp9", clusterName: "cluster9" }),
        /Pulumi\.yaml: zta-testbed:roster\[2\]\.stack = "comp9" has no stack file here \(the lab's: Pulumi\.comp2\.yaml, Pulumi\.comp3\.yaml\): add Pulumi\.comp9\.yaml, or remove the entry/,
    ],
    [
        "equal cluster ids in the two files",
        (s, r) => s === "comp3" && (r.cluster.id = 1),
        /Pulumi\.comp3\.yaml: zta-testbed:cluster\.id is 1 here and 1 in peer stack "comp2"/,
    ],
    [
        "a misspelt key",
        (s, r) => s === "comp2" && (r.hots = r.host),
        /Pulumi\.comp2\.yaml: zta-testbed:hots is not a known setting/,
    ],
];

/** Broken stack files: [label, the file's text from the committed one, the problem]. */
export const FILE_CASES: [string, (stack: string, text: string) => string, RegExp][] = [
    [
        "a YAML syntax error",
        (s, t) => (s === "comp2" ? t.replace("    id: 1\n", "    id: [1\n") : t),
        /Pulumi\.comp2\.yaml, line \d+, column \d+: .*\(.+\): fix the YAML there/,
    ],
    [
        "a duplicate key",
        (s, t) => (s === "comp3" ? t.replace("    id: 2\n", "    id: 2\n    id: 3\n") : t),
        /Pulumi\.comp3\.yaml, line 8, column 5: Map keys must be unique \(DUPLICATE_KEY\)/,
    ],
    [
        "a stack file that is a list",
        (s, t) => (s === "comp2" ? "- config\n" : t),
        /Pulumi\.comp2\.yaml: expected a mapping with a `config:` mapping/,
    ],
    [
        "an SSH key in plain text",
        (s, t) => (s === "comp2" ? t.replace("config:\n", "config:\n  zta-testbed:sshPrivateKey: not-a-key\n") : t),
        /zta-testbed:sshPrivateKey is in plain text in .*Pulumi\.comp2\.yaml: remove it and run `pulumi config set --secret zta-testbed:sshPrivateKey`/,
    ],
];

/** A lab directory for any case of the three tables above. */
export function badLabDir(kind: "config" | "lab" | "file", label: string): string {
    if (kind === "config") {
        const edit = (CONFIG_CASES.find(([l]) => l === label) as [string, Edit, RegExp])[1];
        // A lab-wide key the edit changes is changed for the lab (in Pulumi.yaml), not for comp2 alone.
        let labWide: Record<string, unknown> = {};
        return labDirWith((stack, raw) => {
            if (stack === "comp2") {
                edit(raw);
                labWide = Object.fromEntries(LAB_WIDE_KEYS.map((k) => [k, raw[k]]));
            } else {
                for (const k of LAB_WIDE_KEYS) raw[k] = JSON.parse(JSON.stringify(labWide[k] ?? null)) ?? undefined;
            }
        });
    }
    if (kind === "lab")
        return labDirWith((LAB_CASES.find(([l]) => l === label) as [string, (s: string, r: any) => void, RegExp])[1]);
    const text = (FILE_CASES.find(([l]) => l === label) as [string, (s: string, t: string) => string, RegExp])[1];
    const dir = labDirWith(() => undefined);
    for (const stack of ["comp2", "comp3"]) {
        const file = path.join(dir, `Pulumi.${stack}.yaml`);
        fs.writeFileSync(
            file,
            text(stack, fs.readFileSync(path.join(__dirname, "..", `Pulumi.${stack}.yaml`), "utf8")),
        );
    }
    return dir;
}

// ---------------------------------------------------------------- issue 27: guardrails

/** A PEM private key made for the test (never a real one): what an operator might paste into a stack file. */
export const PLAIN_KEY = crypto
    .generateKeyPairSync("ed25519")
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
/** A CA certificate that expired on 2025-01-01 (test/fixtures/guards/README.md). */
const EXPIRED_CA = fs.readFileSync(path.join(__dirname, "fixtures/guards/expired-issuer-ca.pem"), "utf8");
/** A CA certificate valid until 2046 (test/fixtures/verify/README.md). */
const VALID_CA = fs.readFileSync(path.join(__dirname, "fixtures/verify/other-root.pem"), "utf8");
/** An external issuer as an operator would bring it: its keys on its own host, its CA, an audience. */
const EXTERNAL_JWT = {
    issuer: "https://idp.example.org/realms/lab",
    jwksUri: "https://idp.example.org/realms/lab/protocol/openid-connect/certs",
    caCert: VALID_CA,
    audiences: ["zta-lab"],
};

/** The committed lab with each stack's raw config changed as `edit` says (lab-wide keys land in Pulumi.yaml, as labDirWith does). */
const everyStack = (edit: (raw: any) => void) => () => labDirWith((_stack, raw) => edit(raw));
const oneStack = (stack: string, edit: (raw: any) => void) => () => labDirWith((s, raw) => s === stack && edit(raw));

/** The committed lab with files rewritten: `edit` gets each file's name and parsed YAML (change it in place), or returns bytes to write instead. */
function labFiles(edit: (file: string, doc: any) => void | Buffer | string): () => string {
    return () => {
        const dir = labDirWith(() => undefined);
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
            const doc = YAML.parse(fs.readFileSync(path.join(dir, file), "utf8"));
            const out = edit(file, doc);
            fs.writeFileSync(path.join(dir, file), out ?? YAML.stringify(doc));
        }
        return dir;
    };
}

/** A directory shaped as an earlier plan left it (its marker lists its files and their hashes), in `root`. */
function earlierPlan(root: string): string {
    const out = path.join(root, "out");
    const files = new Map([
        ["comp2/resources.json", "[]\n"],
        ["comp3/resources.json", "[]\n"],
    ]);
    writeOutDir(out, ["comp2", "comp3"], files);
    return out;
}

/**
 * One guarded mistake: the lab (a copied lab dir), the flags besides `--quiet --config-dir`
 * (default `--out <root>/out`; made inside `root`, which the test snapshots), and the message.
 */
export interface GuardCase {
    readonly label: string;
    readonly lab: () => string;
    readonly args?: (root: string) => string[];
    readonly message: RegExp;
}

/**
 * Issue 27's classes, each refused by `npm run plan` with exit 1 before anything is evaluated
 * or written; test/bad-input.test.ts runs each in process and checks that nothing changed.
 */
export const GUARD_CASES: GuardCase[] = [
    // Zero trust switched off by one value.
    {
        label: "an external issuer without audiences",
        lab: everyStack((r) => (r.jwt = { ...EXTERNAL_JWT, audiences: undefined })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:jwt\.audiences is not set for the external issuer "https:\/\/idp\.example\.org\/realms\/lab": .* or set zta-testbed:jwt\.allowAnyAudience: true/m,
    },
    {
        label: "egress to 0.0.0.0/0 in a stack file",
        lab: oneStack("comp3", (r) => (r.networkPolicy = { egressCidrs: ["0.0.0.0/0"] })),
        message:
            /(?:^|- )Pulumi\.comp3\.yaml: zta-testbed:networkPolicy\.egressCidrs\[0\] = "0\.0\.0\.0\/0": a \/0 opens egress to every address, .* or set zta-testbed:networkPolicy\.allowBroadEgress: true/m,
    },
    {
        label: "egress to 0.0.0.0/0 in Pulumi.yaml",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.yaml")
                doc.config["zta-testbed:networkPolicy"] = { value: { egressCidrs: ["0.0.0.0/0"] } };
        }),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:networkPolicy\.egressCidrs\[0\] = "0\.0\.0\.0\/0": a \/0 opens egress/m,
    },
    {
        label: "egress to a /8",
        lab: oneStack("comp2", (r) => (r.networkPolicy = { egressCidrs: ["10.0.0.0/8"] })),
        message:
            /(?:^|- )Pulumi\.comp2\.yaml: zta-testbed:networkPolicy\.egressCidrs\[0\] = "10\.0\.0\.0\/8": a \/8 opens egress to 16777216 addresses/m,
    },
    {
        label: "egress to the hosts' network",
        lab: oneStack("comp2", (r) => (r.networkPolicy = { egressCidrs: ["192.0.2.0/24", "10.5.0.0/24"] })),
        message:
            /(?:^|- )Pulumi\.comp2\.yaml: zta-testbed:networkPolicy\.egressCidrs\[1\] = "10\.5\.0\.0\/24": it holds the lab machine address registry\.host = "10\.5\.0\.2"/m,
    },
    {
        label: "egress to the peer stack's host",
        lab: oneStack("comp2", (r) => (r.networkPolicy = { egressCidrs: ["10.5.0.4/32"] })),
        message:
            /(?:^|- )Pulumi\.comp2\.yaml: zta-testbed:networkPolicy\.egressCidrs\[0\] = "10\.5\.0\.4\/32": it holds the lab machine address host\.address of stack "comp3" = "10\.5\.0\.4"/m,
    },
    {
        label: "a JWKS URI on another host than the issuer",
        lab: everyStack((r) => (r.jwt = { ...EXTERNAL_JWT, jwksUri: "https://keys.attacker.example/certs" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:jwt\.jwksUri = "https:\/\/keys\.attacker\.example\/certs" is on host "keys\.attacker\.example", not the issuer's "idp\.example\.org"/m,
    },
    // Free text that reaches a shell or a root container.
    {
        label: "an issuer image at :latest",
        lab: everyStack((r) => (r.issuer = { image: "quay.io/keycloak/keycloak:latest" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:issuer\.image = "quay\.io\/keycloak\/keycloak:latest": expected a pinned image: .*not "latest"/m,
    },
    {
        label: "an issuer image that is a docker option",
        lab: everyStack((r) => (r.issuer = { image: "--privileged" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:issuer\.image = "--privileged": expected a container image reference/m,
    },
    {
        label: "an issuer image from another registry",
        lab: everyStack((r) => (r.issuer = { image: "docker.io/someone/keycloak:26.4.7" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:issuer\.image = "docker\.io\/someone\/keycloak:26\.4\.7": expected an image from "quay\.io" or "10\.5\.0\.2:8443"/m,
    },
    {
        label: "an issuer image at a moving minor tag",
        lab: everyStack((r) => (r.issuer = { image: "quay.io/keycloak/keycloak:26.4" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:issuer\.image = "quay\.io\/keycloak\/keycloak:26\.4": expected a pinned image/m,
    },
    // Names that become paths.
    {
        label: "--stacks with a stack name that climbs out of --out",
        lab: everyStack(() => undefined),
        args: (root) => ["--stacks", "comp2,..", "--out", path.join(root, "out")],
        message: /(?:^|- )--stacks: stack name "\.\.": expected a Pulumi stack name/m,
    },
    {
        label: "a stack file whose stack name is ..",
        lab: () => {
            const dir = labDirWith(() => undefined);
            fs.copyFileSync(path.join(dir, "Pulumi.comp3.yaml"), path.join(dir, "Pulumi....yaml"));
            return dir;
        },
        message: /Pulumi\.\.\.\.yaml: stack name "\.\.": expected a Pulumi stack name/,
    },
    {
        label: "--out whose marker is hand-made",
        lab: everyStack(() => undefined),
        args: (root) => ["--out", handMadeMarker(root)],
        message:
            /^plan failed: --out .*: .* is not empty and has a \.zta-plan marker without the list of files and hashes/m,
    },
    {
        label: "--out whose marker is a symbolic link",
        lab: everyStack(() => undefined),
        args: (root) => {
            const out = earlierPlan(root);
            fs.renameSync(path.join(out, PLAN_MARKER), path.join(root, "marker.json"));
            fs.symlinkSync(path.join(root, "marker.json"), path.join(out, PLAN_MARKER));
            return ["--out", out];
        },
        message:
            /^plan failed: --out .*: .* is not empty and has a \.zta-plan that is not a regular file \(a symbolic link\)/m,
    },
    {
        label: "--out whose stack folder is a symbolic link elsewhere",
        lab: everyStack(() => undefined),
        args: (root) => {
            const out = earlierPlan(root);
            fs.mkdirSync(path.join(root, "elsewhere"));
            fs.writeFileSync(path.join(root, "elsewhere", "resources.json"), "[]\n");
            fs.rmSync(path.join(out, "comp2"), { recursive: true });
            fs.symlinkSync(path.join(root, "elsewhere"), path.join(out, "comp2"));
            return ["--out", out];
        },
        message:
            /^plan failed: --out .*: .* is not empty and has comp2, which the marker lists but which is a symbolic link/m,
    },
    {
        label: "--out holding a plan file changed since",
        lab: everyStack(() => undefined),
        args: (root) => {
            const out = earlierPlan(root);
            fs.writeFileSync(path.join(out, "comp2", "resources.json"), "my edits\n");
            return ["--out", out];
        },
        message: /^plan failed: --out .*: .* has comp2\/resources\.json, changed since the earlier plan wrote it/m,
    },
    {
        label: "a wrong stack file while --out holds an earlier plan (the earlier plan stays)",
        lab: oneStack("comp2", (r) => (r.networkPolicy = { egressCidrs: ["0.0.0.0/0"] })),
        args: (root) => ["--out", earlierPlan(root)],
        message: /(?:^|- )Pulumi\.comp2\.yaml: zta-testbed:networkPolicy\.egressCidrs\[0\] = "0\.0\.0\.0\/0"/m,
    },
    // Cross-stack facts.
    {
        label: "two stacks on one host address",
        lab: oneStack("comp3", (r) => (r.host.address = "10.5.0.3")),
        message:
            /(?:^|- )Pulumi\.comp3\.yaml: zta-testbed:host\.address = "10\.5\.0\.3" here is host\.address in peer stack "comp2" too/m,
    },
    {
        label: "a roster entry naming another project's stack",
        lab: everyStack((r) => (r.roster[1].stack = "acme/other-project/comp3")),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:roster\[1\]\.stack = "acme\/other-project\/comp3": names a stack of Pulumi project "other-project", not of this project "zta-testbed"/m,
    },
    {
        label: "the registry and the issuer on one comp1 port",
        lab: everyStack((r) => (r.registry.port = 9443)),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:issuer\.port = 9443 is zta-testbed:registry\.port too: the registry and the lab issuer both listen on comp1/m,
    },
    // Credentials and keys where they do not belong.
    {
        label: "credentials in jwt.issuer",
        lab: everyStack(
            (r) => (r.jwt = { ...EXTERNAL_JWT, issuer: "https://admin:s3cret-pass@idp.example.org/realms/lab" }),
        ),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:jwt\.issuer = "https:\/\/\*\*\*@idp\.example\.org\/realms\/lab": carries credentials/m,
    },
    {
        label: "credentials in jwt.jwksUri",
        lab: everyStack(
            (r) => (r.jwt = { ...EXTERNAL_JWT, jwksUri: "https://admin:s3cret-pass@idp.example.org/realms/lab/certs" }),
        ),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:jwt\.jwksUri = "https:\/\/\*\*\*@idp\.example\.org\/realms\/lab\/certs": carries credentials/m,
    },
    {
        label: "credentials in charts.mirror",
        lab: everyStack((r) => (r.charts = { mirror: "http://mirror:s3cret-pass@10.5.0.2:8080/charts" })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:charts\.mirror = "http:\/\/\*\*\*@10\.5\.0\.2:8080\/charts": carries credentials/m,
    },
    {
        label: "a plain private key under a misspelt namespace",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.comp2.yaml") doc.config["zta-testbd:sshPrivateKey"] = PLAIN_KEY;
        }),
        message:
            /(?:^|- )Pulumi\.comp2\.yaml: zta-testbd:sshPrivateKey holds a private key in plain text \(PEM "PRIVATE KEY", not shown\)/m,
    },
    {
        label: "a plain private key without a namespace",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.comp3.yaml") doc.config.hostKey = PLAIN_KEY;
        }),
        message: /(?:^|- )Pulumi\.comp3\.yaml: hostKey holds a private key in plain text/m,
    },
    {
        label: "a plain private key wrapped by hand as {secure: ...}",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.comp2.yaml") doc.config["zta-testbed:sshPrivateKey"] = { secure: PLAIN_KEY };
        }),
        message:
            /(?:^|- )Pulumi\.comp2\.yaml: zta-testbed:sshPrivateKey holds a private key in plain text wrapped by hand as \{secure: \.\.\.\}/m,
    },
    {
        label: "a plain private key in Pulumi.yaml",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.yaml") doc.config["zta-testbed:registry"].value.tlsKey = PLAIN_KEY;
        }),
        message: /(?:^|- )Pulumi\.yaml: zta-testbed:registry\.value\.tlsKey holds a private key in plain text/m,
    },
    // Messages that point the right way.
    {
        label: "a misspelt section in Pulumi.yaml (reported once, there)",
        lab: labFiles((file, doc) => {
            if (file === "Pulumi.yaml") doc.config["zta-testbed:netwrokPolicy"] = { value: { egressCidrs: [] } };
        }),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:netwrokPolicy is not a known setting: did you mean zta-testbed:networkPolicy\?/m,
    },
    {
        label: "a version written as a YAML number",
        lab: labFiles((file, doc) => {
            return file === "Pulumi.yaml"
                ? YAML.stringify(doc).replace(/istio: "?1\.30\.3"?/, "istio: 1.30")
                : undefined;
        }),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:versions\.istio = 1\.30 \(YAML reads it as the number 1\.3\): expected a string: quote it, as "1\.30"/m,
    },
    {
        label: "a stack file in UTF-16",
        lab: labFiles((file, doc) =>
            file === "Pulumi.comp2.yaml"
                ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(YAML.stringify(doc), "utf16le")])
                : undefined,
        ),
        message: /Pulumi\.comp2\.yaml is not UTF-8 text \(it looks like UTF-16, or holds NUL bytes\): save it as UTF-8/,
    },
    {
        label: "a stack file with a YAML alias bomb",
        lab: labFiles((file, doc) => {
            if (file !== "Pulumi.comp3.yaml") return;
            const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
            for (let i = 1; i < 8; i++)
                levels.push(
                    `${"abcdefgh"[i]}: &${"abcdefgh"[i]} [${Array(9)
                        .fill(`*${"abcdefgh"[i - 1]}`)
                        .join(", ")}]`,
                );
            return `${levels.join("\n")}\n${YAML.stringify(doc)}`;
        }),
        message: /Pulumi\.comp3\.yaml: Excessive alias count .* \(YAML aliases that expand too far\)/,
    },
    {
        label: "--config-dir that is a file",
        lab: everyStack(() => undefined),
        args: (root) => ["--config-dir", path.join(root, "lab", "Pulumi.yaml"), "--out", path.join(root, "out")],
        message: /(?:^|- )--config-dir .*Pulumi\.yaml is not a directory/m,
    },
    {
        label: "--out under a file",
        lab: everyStack(() => undefined),
        args: (root) => ["--out", path.join(root, "lab", "Pulumi.yaml", "plan")],
        message: /^plan failed: --out .*: .*Pulumi\.yaml is not a directory, so .* cannot be made/m,
    },
    {
        label: "--out that is a dangling symbolic link",
        lab: everyStack(() => undefined),
        args: (root) => {
            fs.symlinkSync(path.join(root, "nowhere"), path.join(root, "out"));
            return ["--out", path.join(root, "out")];
        },
        message: /^plan failed: --out .*: .* is a symbolic link/m,
    },
    // Trust material.
    {
        label: "an expired jwt.caCert",
        lab: everyStack((r) => (r.jwt = { ...EXTERNAL_JWT, caCert: EXPIRED_CA })),
        message:
            /(?:^|- )Pulumi\.yaml: zta-testbed:jwt\.caCert = "-----BEGIN CERTIFICATE-----\\nMIIB.*\.\.\.": the certificate expired on Jan {1,2}1 00:00:00 2025 GMT/m,
    },
];

/** An --out holding a marker made by hand (the old format: no file list), over a user's folder. */
function handMadeMarker(root: string): string {
    const out = path.join(root, "out");
    fs.mkdirSync(path.join(out, "comp2"), { recursive: true });
    fs.writeFileSync(path.join(out, "comp2", "thesis.tex"), "\\documentclass{article}\n");
    fs.writeFileSync(
        path.join(out, PLAN_MARKER),
        JSON.stringify({ tool: "zta-testbed offline plan", wrote: ["comp2", "comp3"] }),
    );
    return out;
}
