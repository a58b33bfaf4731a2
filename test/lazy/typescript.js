// The TypeScript compiler, loaded on first use. @pulumi/pulumi requires it (and
// @npmcli/arborist, see arborist.js) when it loads, for serializing functions, which
// this program never does; jest loads every module again for each test file, so the
// two cost over a second of each file's time. jest.config.js maps them here.
const path = require("path");

let real;
const load = () => (real ??= require(path.join(__dirname, "..", "..", "node_modules", "typescript")));
module.exports = new Proxy(
    {},
    {
        get: (_target, key) => load()[key],
        has: (_target, key) => key in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_target, key) => ({
            ...Reflect.getOwnPropertyDescriptor(load(), key),
            configurable: true,
        }),
    },
);
