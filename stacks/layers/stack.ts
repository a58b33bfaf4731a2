// What every layer of a cluster is declared from.
import { LabConfig } from "../config/lab-config";
import { OwnLastRun, PeerUse, PeerView } from "../peer";

/** The stack's config, its peers as this run sees them, and the record of which peer outputs this run used (`usedFromPeer`). */
export interface StackInput {
    readonly cfg: LabConfig;
    readonly peers: readonly PeerView[];
    /** Every peer output a layer declares resources from is marked here. */
    readonly used: PeerUse;
    /** What this stack's own last run exported (a peer-role stack of the shared model only: readOwnLastRun). */
    readonly self?: OwnLastRun;
}
