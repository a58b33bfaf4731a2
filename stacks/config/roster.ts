// The roster: every stack of the lab and the cluster it builds, listed once, in
// Pulumi.yaml (`zta-testbed:roster`); a stack's peers are the roster without itself.
// Adding a cluster is one stack file and one roster line, removing one is one line
// and a destroy (docs/deploy.md, "Add a cluster" and "Remove a cluster").
import { stackFileOf, stackNameOf } from "./messages";
import { CONFIG_DOC, fullKey, PROJECT_FILE } from "./namespace";
import { PeerRef, RawConfig } from "./schema";

/**
 * The per-stack rosters of earlier labs (`peers`, and the one-peer `peer` before it):
 * refused, with the roster to write instead. Not read with a warning, so that no stack
 * file can keep a peer the roster has dropped: a stale list would keep trusting a
 * cluster that left the lab.
 */
export const RETIRED_KEYS = ["peers", "peer"] as const;

/** This stack's peers: the roster without this stack's own entry, in the roster's order. */
export function peersOf(stack: string, roster: readonly PeerRef[]): readonly PeerRef[] {
    return roster.filter((entry) => stackNameOf(entry.stack) !== stack);
}

/** The roster's own rules, and this stack's place on it: each problem is in Pulumi.yaml. */
export function rosterProblems(stack: string, clusterName: string, roster: readonly PeerRef[]): string[] {
    if (roster.length === 0)
        return [`${fullKey("roster")} = []: expected every stack of the lab, two or more, each with its cluster.name`];
    const problems: string[] = [];
    const stacks = new Map<string, number>();
    const clusters = new Map<string, number>();
    roster.forEach((entry, i) => {
        const name = stackNameOf(entry.stack);
        const first = stacks.get(name);
        if (first !== undefined)
            problems.push(
                `${fullKey(`roster[${i}].stack`)} = "${entry.stack}" is already ${fullKey(`roster[${first}]`)}: name each stack once`,
            );
        const same = clusters.get(entry.clusterName);
        if (same !== undefined)
            problems.push(
                `${fullKey(`roster[${i}].clusterName`)} = "${entry.clusterName}" is already ${fullKey(`roster[${same}].clusterName`)}: every cluster of the lab needs its own name`,
            );
        stacks.set(name, stacks.get(name) ?? i);
        clusters.set(entry.clusterName, clusters.get(entry.clusterName) ?? i);
    });
    const own = roster.findIndex((entry) => stackNameOf(entry.stack) === stack);
    if (own < 0) {
        problems.push(
            `${fullKey("roster")} has no entry for this stack, "${stack}": add \`- {stack: ${stack}, clusterName: ${clusterName}}\` to it; ` +
                `a stack that has left the lab is destroyed, not run (\`pulumi destroy --stack ${stack}\`, docs/deploy.md, "Remove a cluster")`,
        );
    } else if (roster[own].clusterName !== clusterName) {
        problems.push(
            `${fullKey(`roster[${own}].clusterName`)} = "${roster[own].clusterName}" but stack "${stack}" builds ${fullKey("cluster.name")} = "${clusterName}" (${stackFileOf(stack)}): make them equal`,
        );
    } else if (roster.length === 1) {
        problems.push(
            `${fullKey("roster")} lists only this stack, "${stack}": a lab has two clusters or more (the program has no one-cluster mode); add the other stacks`,
        );
    }
    return problems;
}

/** A value of a roster line as YAML writes it: plain when it can be, else quoted. */
function scalar(value: unknown): string {
    const text = String(value);
    return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(text) ? text : JSON.stringify(text);
}

/**
 * The config without the retired keys, and for each one set, the problem that says what
 * to write instead: the roster lines, in Pulumi.yaml's config block, built from this stack
 * and the peers it listed (every stack's file gives the same roster when the lab agreed).
 */
export function withoutRetiredKeys(stack: string, raw: RawConfig): { rest: RawConfig; problems: string[] } {
    const set = RETIRED_KEYS.filter((k) => raw[k] !== undefined);
    if (set.length === 0) return { rest: raw, problems: [] };
    const rest = Object.fromEntries(
        Object.entries(raw).filter(([k]) => !set.includes(k as (typeof RETIRED_KEYS)[number])),
    );
    const keys = set.map((k) => fullKey(k)).join(" and ");
    const file = stackFileOf(stack);
    if (raw.roster !== undefined)
        return {
            rest,
            problems: [
                `${keys} ${set.length > 1 ? "are" : "is"} retired and ${PROJECT_FILE} sets ${fullKey("roster")}, which names this stack's peers: remove ${keys} from ${file}`,
            ],
        };
    const listed = [raw.peers, raw.peer].flatMap((v) => (Array.isArray(v) ? v : v === undefined ? [] : [v]));
    const cluster = (raw.cluster as { name?: unknown } | undefined)?.name;
    const entries = [{ stack, clusterName: cluster }, ...(listed as { stack?: unknown; clusterName?: unknown }[])]
        .map((e) => `      - {stack: ${scalar(e?.stack)}, clusterName: ${scalar(e?.clusterName)}}`)
        .sort();
    return {
        rest,
        problems: [
            `${keys} ${set.length > 1 ? "are" : "is"} retired: the lab's stacks are listed once, in ${PROJECT_FILE}'s ${fullKey("roster")}, and each stack's peers are the others (see ${CONFIG_DOC}). ` +
                `Write the roster under \`config:\` in ${PROJECT_FILE} and remove ${keys} from every stack file; the running lab keeps every resource (a peer's StackReference keeps its name):\n` +
                `  ${fullKey("roster")}:\n    value:\n${[...new Set(entries)].join("\n")}`,
        ],
    };
}
