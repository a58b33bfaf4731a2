// HostPrep and Registry on Pulumi's own mocks (the pulumi/examples jest shape):
// the plan shows the SSH connection only as "[secret]", so this reads the
// connection each command really gets: which host, port, user and key.
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";

interface Created {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
}
const created: Created[] = [];

pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            created.push({ type: args.type, name: args.name, inputs: args.inputs });
            const password =
                args.type === "random:index/randomPassword:RandomPassword"
                    ? { result: `password of ${args.name}`, bcryptHash: `$2a$10$hash-of-${args.name}` }
                    : {};
            return {
                id: `${args.name}-id`,
                state: {
                    ...args.inputs,
                    stdout: `stdout of ${args.name}`,
                    certPem: `cert of ${args.name}`,
                    privateKeyPem: `key of ${args.name}`,
                    ...password,
                },
            };
        },
        call: (args) => {
            throw new Error(`unmocked invoke ${args.token}`);
        },
    },
    "zta-testbed",
    "unit",
    false,
);

const KEY = "unit-test-ssh-key (not a real key)";
const host = { address: "192.0.2.10", networks: [], sshUser: "lab", sshPort: 2222, allowReset: false };

/** The value inside a secret as the mock monitor receives it; fails the test when it is not secret. */
function secretValue(input: unknown): unknown {
    expect(input).toMatchObject({ [rpc.specialSigKey]: rpc.specialSecretSig });
    return (input as { value: unknown }).value;
}

/** The resource once the mocks have seen it: registration waits for its inputs to resolve. */
async function registered(name: string): Promise<Created> {
    for (let i = 0; i < 200; i++) {
        const found = created.find((c) => c.name === name);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${name} was never registered`);
}

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

function isSecret<T>(output: pulumi.Output<T>): Promise<boolean> {
    return (output as unknown as { isSecret: Promise<boolean> }).isSecret;
}

describe("HostPrep's commands", () => {
    test("connect to the configured host, port and user with the SSH key, and its kubeconfig is a secret", async () => {
        const { HostPrep } = await import("../components/hostprep");
        const prep = new HostPrep("unit", {
            host,
            sshPrivateKey: pulumi.secret(KEY),
            kubernetesVersion: "1.32",
            podCidr: "10.244.0.0/16",
            serviceCidr: "10.96.0.0/16",
            kubeProxy: false,
            registry: "192.0.2.2:8443",
            registryCaCert: "SERVICES-CA",
        });
        expect(await promiseOf(prep.kubeconfig)).toBe("stdout of unit-kubeconfig");
        expect(await isSecret(prep.kubeconfig)).toBe(true);
        expect(await promiseOf(prep.apiServer)).toBe("https://192.0.2.10:6443");

        const commands = created.filter((c) => c.type === "command:remote:Command" && c.name.startsWith("unit-"));
        expect(commands.map((c) => c.name).sort()).toEqual(
            [
                "unit-connection",
                "unit-kubeadm-init",
                "unit-kubeconfig",
                "unit-prepare",
                "unit-reset",
                "unit-trust",
            ].sort(),
        );
        for (const c of commands) {
            expect(secretValue(c.inputs.connection)).toMatchObject({
                host: "192.0.2.10",
                port: 2222,
                user: "lab",
                privateKey: KEY,
            });
        }
    });
});

describe("Registry's commands", () => {
    test("connect to the registry host with the SSH key and hand it certificate, key and the push account's bcrypt hash (never the password) on standard input", async () => {
        const { Registry } = await import("../components/registry");
        new Registry("reg", {
            address: "192.0.2.2",
            port: 8443,
            sshUser: "ops",
            sshPrivateKey: pulumi.secret(KEY),
            servicesCaCert: "SERVICES-CA",
            servicesCaKey: pulumi.secret("SERVICES-CA-KEY"),
        });
        const container = await registered("reg-container");
        expect(secretValue(container.inputs.connection)).toMatchObject({
            host: "192.0.2.2",
            port: 22,
            user: "ops",
            privateKey: KEY,
        });
        expect(secretValue(container.inputs.stdin)).toBe(
            "cert of reg-cert\nkey of reg-key\nhtpasswd: zta-push:$2a$10$hash-of-reg-push-password\n",
        );
        expect(String(secretValue(container.inputs.stdin))).not.toContain("password of reg-push-password");
    });
});
