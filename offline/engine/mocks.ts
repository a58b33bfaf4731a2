// Values the mock runtime returns for outputs that a real provider would
// compute. They are labelled placeholders, so a reader of the plan (and the
// redaction tests) can tell where each came from; a certificate or a signing request
// is a real one in PEM whose subject carries the label (mock-cert.ts), as the program
// parses it: a request is for the key its private key's placeholder stands for, and a
// certificate signed for a request carries that request's key.
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { mockCertificatePem, mockCsrPem } from "./mock-cert";

/** Prefix of every placeholder that stands for private key material. */
export const MOCK_PRIVATE_KEY = "MOCK-PRIVATE-KEY";
/** Prefix of every placeholder that stands for a bearer token. */
export const MOCK_TOKEN = "MOCK-TOKEN";

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** The signing request a LocallySignedCert is issued for, when its inputs name one. */
function requestOf(inputs: Record<string, unknown>): string | undefined {
    const request: unknown = rpc.unwrapRpcSecret(inputs.certRequestPem);
    return typeof request === "string" ? request : undefined;
}

export function mockOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const label = `${type.split(":").pop()}/${name}`;
    const k8sObject = { metadata: inputs.metadata ?? { name } };
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return {
                privateKeyPem: `${MOCK_PRIVATE_KEY}(${label})`,
                privateKeyPemPkcs8: `${MOCK_PRIVATE_KEY}(${label} pkcs8)`,
                privateKeyOpenssh: `${MOCK_PRIVATE_KEY}(${label} openssh)`,
                publicKeyPem: `MOCK-PUBLIC-KEY(${label})`,
            };
        case "tls:index/certRequest:CertRequest":
            return {
                certRequestPem: mockCsrPem(`MOCK-CSR(${label})`, String(rpc.unwrapRpcSecret(inputs.privateKeyPem))),
            };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { certPem: mockCertificatePem(`MOCK-CERT(${label})`, inputs.isCaCertificate === true) };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return {
                certPem: mockCertificatePem(`MOCK-CERT(${label})`, inputs.isCaCertificate === true, requestOf(inputs)),
            };
        case "random:index/randomPassword:RandomPassword":
            return { result: `MOCK-PASSWORD(${label})`, bcryptHash: `MOCK-BCRYPT(${label})` };
        case "command:remote:Command":
        case "command:local:Command":
            return { stdout: `MOCK-STDOUT(${label})`, stderr: "" };
        case "kubernetes:core/v1:Secret":
            // Kubernetes' token controller fills in a service-account token Secret's data.
            if (inputs.type !== "kubernetes.io/service-account-token") return k8sObject;
            return {
                ...k8sObject,
                data: {
                    token: base64(`${MOCK_TOKEN}(${label})`),
                    "ca.crt": base64(mockCertificatePem(`MOCK-CERT(${label} cluster CA)`, true)),
                },
            };
        default:
            return type.startsWith("kubernetes:") ? k8sObject : {};
    }
}
