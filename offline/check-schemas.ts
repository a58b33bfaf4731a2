// `npm run check:schemas -- --schemas DIR [--plan DIR]`: checks every Kubernetes
// object of the offline plan against upstream schemas (CRDs and the Kubernetes
// OpenAPI v3 specs found under DIR), and Helm values against the charts'
// values.schema.json where DIR has one. Strict: a field the schema does not
// declare is an error, because the API server prunes unknown CRD fields silently.
// The schemas are not part of this repository; point --schemas at a copy.
import Ajv, { ValidateFunction } from "ajv";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { SECRET, UNKNOWN } from "./evaluate";

type Schema = Record<string, unknown>;

function filesUnder(dir: string, suffix: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), suffix) : e.name.endsWith(suffix) ? [path.join(dir, e.name)] : []));
}

/** Objects that list their properties reject others, unless the schema says unknown fields are kept. */
export function strict(schema: unknown, branch = false): unknown {
    if (Array.isArray(schema)) return schema.map((v) => strict(v, branch));
    if (schema === null || typeof schema !== "object") return schema;
    const s = Object.fromEntries(
        Object.entries(schema as Schema).map(([k, v]) => [k, k === "properties" ? mapValues(v as Schema, (p) => strict(p)) : strict(v, COMBINATORS.includes(k))]),
    );
    // A oneOf/anyOf/allOf/not branch only validates the object its parent declares (Kubernetes
    // structural schemas: branches name properties only to require them), so it gets no additionalProperties.
    if (!branch && s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"]) s.additionalProperties = false;
    return s;
}

const COMBINATORS = ["oneOf", "anyOf", "allOf", "not"];

/**
 * Reads a values schema the way it applies to the values we pass: Helm checks it
 * with draft-07 semantics, where the siblings of a `$ref` are ignored (Ajv would
 * apply them), and after merging the chart's defaults, which supply what
 * `required` asks for (we pass only overrides, so `required` is dropped).
 */
export function asOverrideSchema(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(asOverrideSchema);
    if (schema === null || typeof schema !== "object") return schema;
    const s = schema as Schema;
    const kept = "$ref" in s ? Object.fromEntries(Object.entries(s).filter(([k]) => ["$ref", "$defs", "definitions"].includes(k))) : s;
    return Object.fromEntries(Object.entries(kept).filter(([k, v]) => !(k === "required" && Array.isArray(v))).map(([k, v]) => [k, asOverrideSchema(v)]));
}

function mapValues(obj: Schema, f: (v: unknown) => unknown): Schema {
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, f(v)]));
}

/** Drops values the plan redacted or could not know: they cannot be checked, and must not fail the check. */
export function withoutPlaceholders(value: unknown): unknown {
    if (Array.isArray(value)) return value.filter((v) => v !== SECRET && v !== UNKNOWN).map(withoutPlaceholders);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.entries(value as Schema)
                .filter(([, v]) => v !== SECRET && v !== UNKNOWN)
                .map(([k, v]) => [k, withoutPlaceholders(v)]),
        );
    }
    return value;
}

export class SchemaSet {
    private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    private readonly byGvk = new Map<string, ValidateFunction>();
    private readonly values = new Map<string, ValidateFunction>();

    constructor(dir: string) {
        for (const file of filesUnder(dir, ".yaml")) {
            for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
                const crd = doc.toJS() as { kind?: string; spec?: any };
                if (crd?.kind !== "CustomResourceDefinition") continue;
                for (const version of crd.spec.versions ?? []) {
                    const schema = version.schema?.openAPIV3Schema;
                    if (!schema) continue;
                    // The API server accepts the object envelope whether or not a CRD's schema lists it (Istio's do not).
                    const envelope = { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" } };
                    const whole = { ...schema, properties: { ...envelope, ...(schema.properties ?? {}) } };
                    this.byGvk.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, this.ajv.compile(strict(whole) as Schema));
                }
            }
        }
        for (const file of filesUnder(dir, "_openapi.json")) {
            const id = path.basename(file);
            const doc = JSON.parse(fs.readFileSync(file, "utf8"));
            this.ajv.addSchema({ $id: id, components: { schemas: mapValues(doc.components.schemas, strict) } });
            for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Schema>)) {
                for (const gvk of (schema["x-kubernetes-group-version-kind"] as { group: string; version: string; kind: string }[]) ?? []) {
                    const key = `${gvk.group}/${gvk.version}/${gvk.kind}`;
                    if (!this.byGvk.has(key)) this.byGvk.set(key, this.ajv.compile({ $ref: `${id}#/components/schemas/${name}` }));
                }
            }
        }
        for (const file of filesUnder(dir, "values.schema.json")) {
            const chart = path.basename(file) === "values.schema.json" ? path.basename(path.dirname(file)).replace(/-[\d.]+$/, "") : path.basename(file).split(".")[0];
            // Draft-07 without its meta-schema URL, which Ajv knows under another spelling.
            const { $schema: _ignored, ...schema } = JSON.parse(fs.readFileSync(file, "utf8"));
            if (!this.values.has(chart)) this.values.set(chart, this.ajv.compile(asOverrideSchema(schema) as Schema));
        }
    }

    get kinds(): number {
        return this.byGvk.size;
    }

    /** Problems of one Kubernetes object, or undefined when no schema for its kind is known. */
    checkObject(obj: { apiVersion?: string; kind?: string }): string[] | undefined {
        const [group, version] = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
        const validate = this.byGvk.get(`${group}/${version}/${obj.kind}`);
        if (!validate) return undefined;
        return validate(withoutPlaceholders(obj)) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    }

    /** Problems of a chart's values (and of its sub-charts' sections), or undefined when none has a schema here. */
    checkValues(chart: string, values: Record<string, unknown>): string[] | undefined {
        const sections: [string, string, unknown][] = [["", chart, values], ...Object.entries(values).map(([k, v]): [string, string, unknown] => [`/${k}`, k, v])];
        const checked = sections.filter(([, name]) => this.values.has(name));
        if (checked.length === 0) return undefined;
        return checked.flatMap(([at, name, v]) => {
            const validate = this.values.get(name) as ValidateFunction;
            return validate(withoutPlaceholders(v)) ? [] : (validate.errors ?? []).map((e) => `${at}${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
        });
    }
}

function main(): void {
    const argv = process.argv.slice(2);
    const flag = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const schemasDir = flag("--schemas");
    const planDir = flag("--plan") ?? "plan";
    if (!schemasDir || argv.includes("--help")) {
        console.log("usage: npm run check:schemas -- --schemas DIR [--plan DIR]   (run `npm run plan` first)");
        process.exit(schemasDir ? 0 : 2);
    }
    const schemas = new SchemaSet(schemasDir);
    let failures = 0;
    let checked = 0;
    const unchecked = new Set<string>();
    for (const file of filesUnder(planDir, ".yaml").sort()) {
        const doc = YAML.parse(fs.readFileSync(file, "utf8"));
        const rel = path.relative(planDir, file);
        const problems = rel.split(path.sep)[1] === "helm" ? schemas.checkValues(doc.chart, doc.values ?? {}) : schemas.checkObject(doc);
        if (problems === undefined) {
            unchecked.add(rel.split(path.sep)[1] === "helm" ? `chart ${doc.chart}` : `${doc.apiVersion} ${doc.kind}`);
            continue;
        }
        checked++;
        if (problems.length > 0) {
            failures++;
            console.log(`FAIL ${rel}\n${problems.map((p) => `     ${p}`).join("\n")}`);
        } else {
            console.log(`ok   ${rel}`);
        }
    }
    if (unchecked.size > 0) console.log(`no schema under ${schemasDir} for: ${[...unchecked].sort().join(", ")}`);
    console.log(`${checked - failures} passed, ${failures} failed`);
    process.exit(failures > 0 ? 1 : 0);
}

if (require.main === module) main();
