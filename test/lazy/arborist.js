// @npmcli/arborist, loaded on first use (see typescript.js). Marked as an ES module
// so that the SDK's __importStar keeps this object (and its getter) as it is.
const path = require("path");

module.exports = {
    __esModule: true,
    get Arborist() {
        return require(path.join(__dirname, "..", "..", "node_modules", "@npmcli", "arborist")).Arborist;
    },
};
