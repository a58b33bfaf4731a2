// `npm run check:schemas -- [--schemas DIR] [--charts DIR] [--plan DIR]`: checks every Kubernetes
// object of the offline plan against upstream schemas (CRDs and the Kubernetes
// OpenAPI v3 specs found under DIR), and Helm values against the charts'
// values.schema.json where DIR has one. Strict: a field the schema does not
// declare is an error, because the API server prunes unknown CRD fields silently.
// The schemas are not part of this repository; point --schemas at a copy.
import Ajv, { ValidateFunction } from "ajv";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { readFlags, UsageError } from "../cli";
import { chartArchive, chartCrdDocuments, chartValuesSchemas, plannedReleases, readChartArchive } from "./charts";
import { SECRET, UNKNOWN } from "../engine/record";
import { re2RegExp } from "./re2";

type Schema = Record<string, unknown>;

/** A file given to the check that cannot be used (exit 1), named with the reason. */
export class InputError extends Error {}

/** Parses one file with `parse`; a file that does not parse is an InputError naming it, not a parser trace. */
function parseFile<T>(file: string, parse: (text: string) => T): T {
    try {
        return parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new InputError(
            `${file} cannot be read as ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message.split("\n")[0]}`,
        );
    }
}

function filesUnder(dir: string, suffix: string): string[] {
    if (!fs.existsSync(dir)) return [];
    if (!fs.statSync(dir).isDirectory()) return dir.endsWith(suffix) ? [dir] : [];
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) =>
            e.isDirectory()
                ? filesUnder(path.join(dir, e.name), suffix)
                : e.name.endsWith(suffix)
                  ? [path.join(dir, e.name)]
                  : [],
        );
}

/** Objects that list their properties reject others, unless the schema says unknown fields are kept. */
export function strict(schema: unknown, branch = false): unknown {
    if (Array.isArray(schema)) return schema.map((v) => strict(v, branch));
    if (schema === null || typeof schema !== "object") return schema;
    const s = Object.fromEntries(
        Object.entries(schema as Schema).map(([k, v]) => [
            k,
            k === "properties" ? mapValues(v as Schema, (p) => strict(p)) : strict(v, COMBINATORS.includes(k)),
        ]),
    );
    // A oneOf/anyOf/allOf/not branch only validates the object its parent declares (Kubernetes
    // structural schemas: branches name properties only to require them), so it gets no additionalProperties.
    if (!branch && s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"])
        s.additionalProperties = false;
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
    const kept =
        "$ref" in s
            ? Object.fromEntries(Object.entries(s).filter(([k]) => ["$ref", "$defs", "definitions"].includes(k)))
            : s;
    return Object.fromEntries(
        Object.entries(kept)
            .filter(([k, v]) => !(k === "required" && Array.isArray(v)))
            .map(([k, v]) => [k, asOverrideSchema(v)]),
    );
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

/**
 * What to read from the --schemas folders: each folder's entries, except a
 * `<chart>-<version>` folder of a chart the plan pins at another version
 * (`cilium-1.17` when the plan pins cilium 1.20.0), which would check the plan
 * against what it will not meet. `pinned` maps a chart to the version the plan pins.
 */
export function schemaSources(
    dirs: readonly string[],
    pinned: ReadonlyMap<string, string>,
): { use: string[]; skipped: string[] } {
    const use: string[] = [];
    const skipped: string[] = [];
    for (const dir of dirs) {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const at = path.join(dir, entry.name);
            const versioned = entry.isDirectory() ? /^(.+)-(\d+(?:\.\d+)*)$/.exec(entry.name) : null;
            const version = versioned ? pinned.get(versioned[1]) : undefined;
            if (
                versioned &&
                version !== undefined &&
                version !== versioned[2] &&
                !version.startsWith(`${versioned[2]}.`)
            ) {
                skipped.push(`${at} (the plan pins ${versioned[1]} ${version})`);
            } else {
                use.push(at);
            }
        }
    }
    return { use, skipped };
}

/** Schemas taken from a packaged chart: its CRDs and values schemas, labelled with the archive. */
export interface ChartSchemas {
    /** What the report names as the source, e.g. "metallb-0.16.1.tgz". */
    readonly label: string;
    readonly files: Map<string, string>;
}

export class SchemaSet {
    // CRD patterns are RE2 (Go) syntax, checked by the API server with Go's regexp: see offline/check/re2.ts.
    private readonly ajv = new Ajv({
        strict: false,
        allErrors: true,
        validateFormats: false,
        code: { regExp: re2RegExp },
    });
    private readonly byGvk = new Map<string, ValidateFunction>();
    private readonly values = new Map<string, ValidateFunction>();
    /** Where each kind's and each chart's schema came from (first source wins). */
    readonly sources = new Map<string, string>();

    /**
     * Charts first: a kind or chart they cover is checked against the schema of
     * the pinned chart, and `dirs` (folders or files: upstream copies, the
     * Kubernetes OpenAPI) only fill what they do not cover, the first one first.
     */
    constructor(dirs: string | readonly string[] = [], charts: readonly ChartSchemas[] = []) {
        for (const chart of charts) {
            for (const { file, crd } of chartCrdDocuments(chart.files)) this.addCrd(crd, `${chart.label}:${file}`);
            for (const { chart: name, file, schema } of chartValuesSchemas(chart.files))
                this.addValuesSchema(name, schema, `${chart.label}:${file}`);
        }
        for (const dir of typeof dirs === "string" ? [dirs] : dirs) this.addDir(dir);
    }

    private addDir(dir: string): void {
        for (const file of filesUnder(dir, ".yaml")) {
            for (const doc of parseFile(file, (t) => YAML.parseAllDocuments(t))) this.addCrd(doc.toJS(), file);
        }
        for (const file of filesUnder(dir, "_openapi.json")) {
            const id = path.basename(file);
            const doc = parseFile(file, JSON.parse);
            this.ajv.addSchema({ $id: id, components: { schemas: mapValues(doc.components.schemas, strict) } });
            for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Schema>)) {
                for (const gvk of (schema["x-kubernetes-group-version-kind"] as {
                    group: string;
                    version: string;
                    kind: string;
                }[]) ?? []) {
                    const key = `${gvk.group}/${gvk.version}/${gvk.kind}`;
                    if (this.byGvk.has(key)) continue;
                    this.byGvk.set(key, this.ajv.compile({ $ref: `${id}#/components/schemas/${name}` }));
                    this.sources.set(key, file);
                }
            }
        }
        for (const file of filesUnder(dir, "values.schema.json")) {
            const chart =
                path.basename(file) === "values.schema.json"
                    ? path.basename(path.dirname(file)).replace(/-[\d.]+$/, "")
                    : path.basename(file).split(".")[0];
            this.addValuesSchema(chart, parseFile(file, JSON.parse), file);
        }
    }

    private addCrd(doc: unknown, source: string): void {
        const crd = doc as { kind?: string; spec?: any } | null;
        if (crd?.kind !== "CustomResourceDefinition") return;
        for (const version of crd.spec.versions ?? []) {
            const schema = version.schema?.openAPIV3Schema;
            const key = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
            if (!schema || this.byGvk.has(key)) continue;
            // The API server accepts the object envelope whether or not a CRD's schema lists it (Istio's do not).
            const envelope = { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" } };
            const whole = { ...schema, properties: { ...envelope, ...(schema.properties ?? {}) } };
            let validate: ValidateFunction;
            try {
                validate = this.ajv.compile(strict(whole) as Schema);
            } catch (err) {
                throw new InputError(
                    `${source}: the schema of ${key} cannot be compiled: ${(err as Error).message.split("\n")[0]}`,
                );
            }
            this.byGvk.set(key, validate);
            this.sources.set(key, source);
        }
    }

    private addValuesSchema(chart: string, json: Record<string, unknown>, source: string): void {
        if (this.values.has(chart)) return;
        // Draft-07 without its meta-schema URL, which Ajv knows under another spelling.
        const { $schema: _ignored, ...schema } = json;
        this.values.set(chart, this.ajv.compile(asOverrideSchema(schema) as Schema));
        this.sources.set(`chart ${chart}`, source);
    }

    get kinds(): number {
        return this.byGvk.size;
    }

    /** The schemas a check of this object (or of these chart values) uses, with their sources. */
    sourcesOf(
        item: { apiVersion?: string; kind?: string } | { chart: string; values: Record<string, unknown> },
    ): [string, string][] {
        const keys =
            "chart" in item
                ? [item.chart, ...Object.keys(item.values)].map((name) => `chart ${name}`)
                : [`${item.apiVersion?.includes("/") ? item.apiVersion : `/${item.apiVersion}`}/${item.kind}`];
        return keys.filter((k) => this.sources.has(k)).map((k) => [k, this.sources.get(k) as string]);
    }

    /** Problems of one Kubernetes object, or undefined when no schema for its kind is known. */
    checkObject(obj: { apiVersion?: string; kind?: string }): string[] | undefined {
        const [group, version] = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
        const validate = this.byGvk.get(`${group}/${version}/${obj.kind}`);
        if (!validate) return undefined;
        return validate(withoutPlaceholders(obj))
            ? []
            : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    }

    /** Problems of a chart's values (and of its sub-charts' sections), or undefined when none has a schema here. */
    checkValues(chart: string, values: Record<string, unknown>): string[] | undefined {
        const sections: [string, string, unknown][] = [
            ["", chart, values],
            ...Object.entries(values).map(([k, v]): [string, string, unknown] => [`/${k}`, k, v]),
        ];
        const checked = sections.filter(([, name]) => this.values.has(name));
        if (checked.length === 0) return undefined;
        return checked.flatMap(([at, name, v]) => {
            const validate = this.values.get(name) as ValidateFunction;
            return validate(withoutPlaceholders(v))
                ? []
                : (validate.errors ?? []).map(
                      (e) => `${at}${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`,
                  );
        });
    }
}

const USAGE = `usage: npm run check:schemas -- [--schemas DIR]... [--charts DIR] [--plan DIR]   (run \`npm run plan\` first)

Checks every object of the plan against CRDs and Kubernetes OpenAPI v3 specs,
and Helm values against the charts' values.schema.json, and lists the source
of every schema it used. At least one of --schemas and --charts is needed.

  --charts DIR   a Helm repository folder (<chart>-<version>.tgz): CRDs and values schemas are taken
                 from each chart of the plan at its pinned version; a pinned chart missing there fails
  --schemas DIR  upstream schemas (CRDs, Kubernetes OpenAPI, values schemas) for what the charts do not cover;
                 may be given more than once (the first wins); a <chart>-<version> folder of a chart the
                 plan pins at another version is skipped (cilium-1.17 when the plan pins cilium 1.20.0)
  --plan DIR     the offline plan (default: plan)

Exit codes: 0 every object with a schema passed; 1 an object failed, a pinned
chart is missing, or the input is wrong (a DIR that does not exist or holds no
plan, a file that does not parse); 2 the check could not run (a bad flag, or an
error of the program itself).`;

function main(argv: string[]): number {
    const flags = readFlags(argv, {
        schemas: { type: "string", multiple: true },
        charts: { type: "string" },
        plan: { type: "string" },
        help: { type: "boolean", short: "h" },
    });
    if (flags.help) {
        console.log(USAGE);
        return 0;
    }
    const schemasDirs = flags.schemas ?? [];
    const chartsDir = flags.charts;
    const planDir = flags.plan ?? "plan";
    if (schemasDirs.length === 0 && !chartsDir) throw new UsageError("--schemas DIR is required (or --charts DIR)");
    for (const dir of schemasDirs) {
        if (!fs.existsSync(dir))
            throw new InputError(
                `--schemas ${dir} does not exist: give a directory with the upstream CRDs and OpenAPI specs`,
            );
        if (!fs.statSync(dir).isDirectory())
            throw new InputError(
                `--schemas ${dir} is not a directory: give a directory with the upstream CRDs and OpenAPI specs`,
            );
    }
    if (chartsDir && !fs.existsSync(chartsDir))
        throw new InputError(
            `--charts ${chartsDir} does not exist: give a Helm repository folder holding <chart>-<version>.tgz archives`,
        );
    const planFiles = filesUnder(planDir, ".yaml").sort();
    if (planFiles.length === 0)
        throw new InputError(
            `--plan ${planDir} holds no plan (no <stack>/manifests or <stack>/helm files): run \`npm run plan -- --out ${planDir}\` first`,
        );
    // Every plan file parses (or is named) before the charts are read from the releases among them.
    const planDocs = planFiles.map((file) => ({ file, doc: parseFile(file, YAML.parse) ?? {} }));
    const charts: ChartSchemas[] = [];
    let failures = 0;
    const releases = plannedReleases(planDir);
    if (chartsDir) {
        const pinned = [...new Set(releases.map((r) => `${r.chart}-${r.version}`))].sort();
        for (const name of pinned) {
            const [chart, version] = [name.slice(0, name.lastIndexOf("-")), name.slice(name.lastIndexOf("-") + 1)];
            const archive = chartArchive(chartsDir, chart, version);
            if (!fs.existsSync(archive)) {
                failures++;
                console.log(`FAIL ${archive}: the plan pins ${chart} ${version}, which ${chartsDir} does not have`);
                continue;
            }
            let files: Map<string, string>;
            try {
                files = readChartArchive(archive);
            } catch (err) {
                throw new InputError(
                    `${archive} cannot be read as a chart archive (.tgz): ${(err as Error).message.split("\n")[0]}`,
                );
            }
            charts.push({ label: path.basename(archive), files });
        }
    }
    const { use, skipped } = schemaSources(schemasDirs, new Map(releases.map((r) => [r.chart, r.version])));
    for (const folder of skipped) console.log(`skipped ${folder}`);
    const schemas = new SchemaSet(use, charts);
    let checked = 0;
    const unchecked = new Set<string>();
    const used = new Map<string, string>();
    for (const { file, doc } of planDocs) {
        const rel = path.relative(planDir, file);
        const isRelease = rel.split(path.sep)[1] === "helm";
        const problems = isRelease ? schemas.checkValues(doc.chart, doc.values ?? {}) : schemas.checkObject(doc);
        if (problems === undefined) {
            unchecked.add(isRelease ? `chart ${doc.chart}` : `${doc.apiVersion} ${doc.kind}`);
            continue;
        }
        for (const [key, source] of schemas.sourcesOf(isRelease ? { chart: doc.chart, values: doc.values ?? {} } : doc))
            used.set(key, source);
        checked++;
        if (problems.length > 0) {
            failures++;
            console.log(`FAIL ${rel}\n${problems.map((p) => `     ${p}`).join("\n")}`);
        } else {
            console.log(`ok   ${rel}`);
        }
    }
    console.log("\nschemas used:");
    for (const [key, source] of [...used].sort()) console.log(`  ${key}: ${source}`);
    if (unchecked.size > 0) console.log(`no schema for: ${[...unchecked].sort().join(", ")}`);
    console.log(`${checked - failures} passed, ${failures} failed`);
    return failures > 0 ? 1 : 0;
}

if (require.main === module) {
    try {
        process.exit(main(process.argv.slice(2)));
    } catch (err) {
        if (err instanceof InputError) {
            console.error(`check:schemas failed: ${err.message}`);
            process.exit(1);
        }
        if (err instanceof UsageError) {
            console.error(`check:schemas failed: ${err.message}\n\n${USAGE}`);
            process.exit(2);
        }
        // An error of the program itself: one line, no stack (ZTA_DEBUG=1 shows it, for a bug report).
        console.error(`check:schemas could not run: ${err instanceof Error ? err.message : String(err)}`);
        if (process.env.ZTA_DEBUG) console.error(err);
        process.exit(2);
    }
}
