// A canary for what the mock engine (offline/engine/monitor.ts) takes from the Pulumi SDK
// beyond its documented API. The recording monitor answers every registration itself, so it
// writes each resource into the map of registered resources that the SDK's MockMonitor keeps
// (`resources`, by URN, { urn, id, state }), because the MockMonitor's own code reads it back:
// registerResourceOutputs (the monitor passes each component's outputs on to it) and the
// `pulumi:pulumi:getResource` invoke behind a resource looked up by URN. And the monitor builds
// its answers with google-protobuf's Struct, which must be the copy the SDK's messages use.
// When an SDK upgrade changes one of these, a test here fails naming it and the SDK version,
// where the plan tests would fail far from the cause, or not at all.
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";

const SDK = `@pulumi/pulumi ${(JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8")) as { version: string }).version}`;

/** What the monitor relies on, as a problem naming the SDK internal and the version, or nothing. */
function problem(internal: string, ok: boolean, what: string): string[] {
    return ok
        ? []
        : [`${SDK}: ${internal} ${what}; offline/engine/monitor.ts relies on it: change the monitor with the SDK`];
}

type Entry = { urn: string; id: string | null; state: unknown };
type Callback = (err: Error | null, resp?: unknown) => void;

function newMonitor(): MockMonitor {
    const monitor = new MockMonitor({
        newResource: (args) => ({ id: `${args.name}-id`, state: { made: args.name } }),
        call: () => ({}),
    });
    pulumi.runtime.setMockOptions(monitor, "canary", "stack", true);
    return monitor;
}

/** The map of registered resources, whatever the SDK holds there now. */
function resourcesOf(monitor: MockMonitor): unknown {
    return (monitor as unknown as { resources?: unknown }).resources;
}

function call(
    method: (req: unknown, callback: Callback) => unknown,
    req: unknown,
): Promise<{ err: Error | null; resp?: unknown }> {
    return new Promise((resolve) => void method(req, (err, resp) => resolve({ err, resp })));
}

describe(`the SDK internals the mock engine relies on (${SDK})`, () => {
    test("MockMonitor keeps `resources`, a Map by URN of { urn, id, state } that its own registerResource fills", async () => {
        const monitor = newMonitor();
        const resources = resourcesOf(monitor);
        const problems = problem(
            "MockMonitor.resources",
            resources instanceof Map,
            `is not a Map (it is ${typeof resources})`,
        );
        const req = new resproto.RegisterResourceRequest();
        req.setType("canary:index:Thing");
        req.setName("thing");
        req.setCustom(true);
        req.setObject(structproto.Struct.fromJavaScript({}));
        const { err } = await call(monitor.registerResource.bind(monitor), req);
        expect(err).toBeNull();
        const entries = resources instanceof Map ? [...(resources as Map<string, Entry>)] : [];
        problems.push(
            ...problem(
                "MockMonitor.resources",
                entries.length === 1 &&
                    isDeepStrictEqual(entries[0], [
                        "urn:pulumi:stack::canary::canary:index:Thing::thing",
                        {
                            urn: "urn:pulumi:stack::canary::canary:index:Thing::thing",
                            id: "thing-id",
                            state: { made: "thing" },
                        },
                    ]),
                `after one registration holds ${JSON.stringify(entries)}, not the one entry { urn, id, state } by URN the monitor writes`,
            ),
        );
        expect(problems).toEqual([]);
    });

    test("MockMonitor.registerResourceOutputs reads the entry the monitor writes into `resources`, and refuses a resource without one", async () => {
        const monitor = newMonitor();
        const resources = resourcesOf(monitor) as Map<string, Entry>;
        const urn = "urn:pulumi:stack::canary::canary:index:Component::c";
        // As RecordingMonitor.respond writes it.
        resources.set(urn, { urn, id: "c-id", state: {} });
        const outputs = structproto.Struct.fromJavaScript({ answer: 42 });
        const written = await call(monitor.registerResourceOutputs.bind(monitor), {
            getUrn: () => urn,
            getOutputs: () => outputs,
        });
        const missing = await call(monitor.registerResourceOutputs.bind(monitor), {
            getUrn: () => `${urn}-unwritten`,
            getOutputs: () => outputs,
        });
        expect([
            ...problem(
                "MockMonitor.registerResourceOutputs",
                written.err === null && resources.get(urn)?.state === outputs,
                `does not take the outputs of a resource in MockMonitor.resources (${written.err?.message ?? "its state is unchanged"})`,
            ),
            ...problem(
                "MockMonitor.registerResourceOutputs",
                missing.err !== null,
                "no longer needs the resource in MockMonitor.resources: the monitor's write into the map may be unneeded (check getResource too)",
            ),
        ]).toEqual([]);
    });

    test("MockMonitor answers the getResource invoke (a resource looked up by URN) from the entry the monitor writes", async () => {
        const monitor = newMonitor();
        const urn = "urn:pulumi:stack::canary::canary:index:Thing::looked-up";
        (resourcesOf(monitor) as Map<string, Entry>).set(urn, {
            urn,
            id: "looked-up-id",
            state: { made: "looked-up" },
        });
        const req = new resproto.ResourceInvokeRequest();
        req.setTok("pulumi:pulumi:getResource");
        req.setArgs(structproto.Struct.fromJavaScript({ urn }));
        const { err, resp } = await call(monitor.invoke.bind(monitor), req);
        const answer = (resp as { getReturn?: () => structproto.Struct | undefined } | undefined)
            ?.getReturn?.()
            ?.toJavaScript();
        expect(
            problem(
                "MockMonitor.invoke(pulumi:pulumi:getResource)",
                err === null && isDeepStrictEqual(answer, { urn, id: "looked-up-id", state: { made: "looked-up" } }),
                `answers ${err?.message ?? JSON.stringify(answer)}, not the entry of MockMonitor.resources`,
            ),
        ).toEqual([]);
    });

    test("the monitor builds its answers with the google-protobuf the SDK's messages use", () => {
        const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
        const sdks = require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [sdkDir] });
        const ours = require.resolve("google-protobuf/google/protobuf/struct_pb", {
            paths: [path.resolve(__dirname, "..", "offline", "engine")],
        });
        expect(
            problem(
                "its google-protobuf",
                sdks === ours,
                `is ${sdks}, the monitor's ${ours}: pin package.json's google-protobuf to the SDK's so that npm installs one copy`,
            ),
        ).toEqual([]);
    });
});
