import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * A custom resource whose spec is typed. Each module declares its spec
 * interface by hand from the upstream CRD schema at the pinned version (cited
 * where it is declared), so a misspelt field fails `tsc` instead of the API server.
 */
export interface TypedCustomResourceArgs<Spec> {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: k8s.types.input.meta.v1.ObjectMeta;
    readonly spec: pulumi.Input<Spec>;
}

export class TypedCustomResource<Spec> extends k8s.apiextensions.CustomResource {
    constructor(name: string, args: TypedCustomResourceArgs<Spec>, opts?: pulumi.CustomResourceOptions) {
        super(name, { apiVersion: args.apiVersion, kind: args.kind, metadata: args.metadata, spec: args.spec }, opts);
    }
}
