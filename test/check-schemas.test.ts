// The schema checker used while developing (`npm run check:schemas`): it must
// catch a misspelt field, which the API server would prune silently, and must
// not trip over what the plan redacted.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as tar from "tar";
import { chartCrdDocuments, readChartArchive } from "../offline/charts";
import { SchemaSet } from "../offline/check-schemas";

// A made-up CRD and values schema in the upstream shapes; no upstream file is used.
const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "pools.example.io" },
    spec: {
        group: "example.io",
        names: { kind: "Pool", plural: "pools" },
        scope: "Namespaced",
        versions: [
            {
                name: "v1",
                served: true,
                storage: true,
                schema: {
                    openAPIV3Schema: {
                        type: "object",
                        properties: {
                            spec: {
                                type: "object",
                                required: ["addresses"],
                                properties: { addresses: { type: "array", items: { type: "string" } }, autoAssign: { type: "boolean" } },
                                // As Cilium's CRDs do (spec: oneOf endpointSelector/nodeSelector): branches only require what the parent declares.
                                anyOf: [
                                    { properties: { addresses: {} }, required: ["addresses"] },
                                    { properties: { autoAssign: {} }, required: ["autoAssign"] },
                                ],
                            },
                            extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                        },
                    },
                },
            },
        ],
    },
};

let schemas: SchemaSet;
beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-schemas-"));
    fs.writeFileSync(path.join(dir, "pools.yaml"), YAML.stringify(crd));
    fs.mkdirSync(path.join(dir, "mychart-1.0"));
    fs.writeFileSync(
        path.join(dir, "mychart-1.0", "values.schema.json"),
        JSON.stringify({
            $schema: "https://json-schema.org/draft-07/schema#",
            additionalProperties: false,
            $ref: "#/$defs/values",
            $defs: { values: { type: "object", required: ["replicas"], properties: { replicas: { type: "integer" } } } },
        }),
    );
    schemas = new SchemaSet(dir);
});

const pool = (spec: Record<string, unknown>, more: Record<string, unknown> = {}) => ({ apiVersion: "example.io/v1", kind: "Pool", metadata: { name: "p" }, spec, ...more });

test("a valid object passes, with the envelope (apiVersion, kind, metadata) the CRD schema does not list", () => {
    expect(schemas.checkObject(pool({ addresses: ["10.0.0.1-10.0.0.9"], autoAssign: false }))).toEqual([]);
});

test("a misspelt field fails, naming it", () => {
    expect(schemas.checkObject(pool({ addresses: [], autoAsign: false }))?.join()).toMatch(/\/spec must NOT have additional properties.*autoAsign/);
});

test("fields under x-kubernetes-preserve-unknown-fields are free", () => {
    expect(schemas.checkObject(pool({ addresses: [] }, { extra: { anything: 1 } }))).toEqual([]);
});

test("redacted and unknown values are skipped, not reported", () => {
    expect(schemas.checkObject(pool({ addresses: ["[secret]"], autoAssign: "[unknown]" }))).toEqual([]);
});

test("a kind with no schema is reported as unchecked, not as valid", () => {
    expect(schemas.checkObject({ apiVersion: "other.io/v1", kind: "Thing" })).toBeUndefined();
});

test("values follow Helm's reading: siblings of $ref are ignored, defaults fill what is required, types are checked", () => {
    expect(schemas.checkValues("mychart", { replicas: 1 })).toEqual([]);
    expect(schemas.checkValues("mychart", {})).toEqual([]);
    expect(schemas.checkValues("mychart", { replicas: "one" })?.join()).toMatch(/\/replicas must be integer/);
    expect(schemas.checkValues("otherchart", { mychart: { replicas: "x" } })?.join()).toMatch(/\/mychart\/replicas must be integer/);
    expect(schemas.checkValues("otherchart", {})).toBeUndefined();
});

describe("schemas from packaged charts (--charts)", () => {
    // A made-up chart in the upstream layout: a CRD template with a Helm action in its
    // metadata (as spire-crds and MetalLB have), a values schema in a sub-chart.
    let archive: string;
    beforeAll(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-chart-"));
        const newer = JSON.parse(JSON.stringify(crd));
        newer.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.avoidBuggyIPs = { type: "boolean" };
        const template =
            "{{- if .Values.crds.enabled }}\n" +
            YAML.stringify(newer).replace("metadata:\n", "metadata:\n  annotations:\n    {{- toYaml .Values.annotations | nindent 4 }}\n  labels:\n    release: {{ .Release.Name }}\n") +
            "{{- end }}\n";
        fs.mkdirSync(path.join(dir, "pools", "templates"), { recursive: true });
        fs.mkdirSync(path.join(dir, "pools", "charts", "sub"), { recursive: true });
        fs.writeFileSync(path.join(dir, "pools", "Chart.yaml"), "apiVersion: v2\nname: pools\nversion: 2.0.0\n");
        fs.writeFileSync(path.join(dir, "pools", "templates", "crds.yaml"), template);
        fs.writeFileSync(path.join(dir, "pools", "charts", "sub", "values.schema.json"), JSON.stringify({ type: "object", properties: { port: { type: "integer" } } }));
        archive = path.join(dir, "pools-2.0.0.tgz");
        tar.c({ gzip: true, file: archive, cwd: dir, sync: true }, ["pools"]);
    });

    test("a CRD template's schema is read despite the Helm actions in its metadata", () => {
        const crds = chartCrdDocuments(readChartArchive(archive));
        expect(crds.map((c) => [c.file, c.crd.spec.names.kind])).toEqual([["pools/templates/crds.yaml", "Pool"]]);
    });

    test("the chart's schemas take precedence over older copies in --schemas, and the report names the archive", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-schemas-"));
        fs.writeFileSync(path.join(dir, "pools.yaml"), YAML.stringify(crd));
        const fromChart = new SchemaSet(dir, [{ label: "pools-2.0.0.tgz", files: readChartArchive(archive) }]);
        const fromDir = new SchemaSet(dir);
        const newField = pool({ addresses: [], avoidBuggyIPs: true });
        expect(fromChart.checkObject(newField)).toEqual([]);
        expect(fromDir.checkObject(newField)?.join()).toMatch(/avoidBuggyIPs/);
        expect(fromChart.sourcesOf(newField)).toEqual([["example.io/v1/Pool", "pools-2.0.0.tgz:pools/templates/crds.yaml"]]);
        expect(fromChart.checkValues("pools", { sub: { port: "x" } })?.join()).toMatch(/\/sub\/port must be integer/);
    });
});
